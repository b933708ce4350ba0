import Foundation
import XCTest

/// `bench --factors`: times the frozen factors of every target weight and reports them as JSON.
final class BenchFactorsTests: XCTestCase {
    func testFactorsJSON() throws {
        let r = try CLI.run(["bench", "--factors", "--model", try CLI.modelPath("smollm2-135m"), "--threads", "2",
                             "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let o = try CLI.jsonObject(r)
        XCTAssertEqual(o["modules"] as? Int, 30 * 7)
        XCTAssertEqual(o["rank"] as? Int, 2)
        XCTAssertEqual(o["threads"] as? Int, 2)
        let seconds = try XCTUnwrap(o["seconds"] as? Double)
        XCTAssertGreaterThan(seconds, 0)
        XCTAssertLessThan(seconds, r.seconds)
        XCTAssertGreaterThan(try XCTUnwrap(o["cpu_seconds"] as? Double), 0)
        XCTAssertGreaterThan(try XCTUnwrap(o["read_seconds"] as? Double), 0)
        XCTAssertGreaterThan(try XCTUnwrap(o["peak_rss_mb"] as? Double), 0)
        assertCleanError(try CLI.run(["bench", "--factors", "--model", try CLI.modelPath("smollm2-135m"),
                                      "--factor-rank", "0"]), contains: "--factor-rank")
    }
}
