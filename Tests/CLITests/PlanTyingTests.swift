import Foundation
import XCTest

/// `plan --json` names the tying readably: structured tying over all targeted layers as "structured" (not its
/// internal layer count), structured tying over N layers as "structured(N)".
final class PlanTyingTests: XCTestCase {
    func testStructuredTyingInJSON() throws {
        let model = try CLI.modelPath("qwen2.5-coder-0.5b")
        let all = try CLI.run(["plan", "--model", model, "--structured", "--json"])
        XCTAssertEqual(all.status, 0, all.stderr)
        let o = try CLI.jsonObject(all)
        XCTAssertEqual(o["tying"] as? String, "structured")
        XCTAssertEqual(o["groups"] as? Int, 7)
        XCTAssertEqual(o["trainable_parameters"] as? Int, 7)
        let two = try CLI.jsonObject(try CLI.run(["plan", "--model", model, "--structured", "--structured-layers", "2",
                                                  "--json"]))
        XCTAssertEqual(two["tying"] as? String, "structured(2)")
        XCTAssertEqual(two["groups"] as? Int, 7 * 12)
        XCTAssertFalse(all.stdout.contains("2147483647"), all.stdout)
    }

    /// `--tie-every N` (the name for tiled tying) plans exactly as `--tie N`.
    func testTieEvery() throws {
        let model = try CLI.modelPath("qwen2.5-coder-0.5b")
        let every = try CLI.run(["plan", "--model", model, "--u", "2", "--tie-every", "7", "--json"])
        XCTAssertEqual(every.status, 0, every.stderr)
        let o = try CLI.jsonObject(every)
        XCTAssertEqual(o["tying"] as? String, "tiled(7)")
        XCTAssertEqual(o["groups"] as? Int, 24)
        XCTAssertEqual(o["trainable_parameters"] as? Int, 48)
        XCTAssertEqual(every.stdout, try CLI.run(["plan", "--model", model, "--u", "2", "--tie", "7", "--json"]).stdout)
        assertCleanError(try CLI.run(["plan", "--model", model, "--tie", "all", "--tie-every", "2"]), contains: "--tie-every")
        assertCleanError(try CLI.run(["plan", "--model", model, "--tie-every", "0"]), contains: "--tie-every")
    }
}
