import Foundation
import XCTest

/// `bench --backward`: times one TinyLoRA forward+backward and reports it as JSON.
final class BenchBackwardTests: XCTestCase {
    func testBackwardJSON() throws {
        let model = try CLI.modelPath("smollm2-135m")
        func run(_ extra: [String]) throws -> (CLIResult, [String: Any]) {
            let r = try CLI.run(["bench", "--backward", "--model", model, "--batch", "2", "--prompt-tokens", "24",
                                 "--threads", "2", "--json"] + extra)
            XCTAssertEqual(r.status, 0, r.stderr)
            return (r, try CLI.jsonObject(r))
        }
        let (r, o) = try run([])
        XCTAssertEqual(o["sequences"] as? Int, 2)
        XCTAssertEqual(o["tokens"] as? Int, 24)
        XCTAssertEqual(o["modules"] as? Int, 30 * 7)
        XCTAssertEqual(o["trainable_parameters"] as? Int, 13, "u = 13, every module tied to one v")
        let seconds = try XCTUnwrap(o["seconds"] as? Double)
        XCTAssertGreaterThan(seconds, 0)
        XCTAssertLessThan(seconds, r.seconds)
        XCTAssertGreaterThan(try XCTUnwrap(o["cpu_seconds"] as? Double), 0)
        XCTAssertGreaterThan(try XCTUnwrap(o["peak_rss_mb"] as? Double), 0)
        // The loss is the mean negative log-likelihood of the next tokens: positive; the gradient is not zero.
        let loss = try XCTUnwrap(o["loss"] as? Double)
        XCTAssertTrue(loss.isFinite && loss > 0, "loss \(loss)")
        let norm = try XCTUnwrap(o["gradient_norm"] as? Double)
        XCTAssertTrue(norm.isFinite && norm > 0, "gradient norm \(norm)")

        // The same seed gives the same tokens and loss; another seed other tokens; --u sizes v.
        let (_, again) = try run([])
        XCTAssertEqual(try XCTUnwrap(again["loss"] as? Double), loss, accuracy: 1e-6 * loss)
        let (_, other) = try run(["--seed", "7", "--u", "5"])
        XCTAssertGreaterThan(abs(try XCTUnwrap(other["loss"] as? Double) - loss), 1e-3)
        XCTAssertEqual(other["trainable_parameters"] as? Int, 5)

        assertCleanError(try CLI.run(["bench", "--backward", "--model", model, "--prompt-tokens", "1"]),
                         contains: "--prompt-tokens")
        assertCleanError(try CLI.run(["bench", "--backward", "--model", model, "--u", "0"]), contains: "--u")
    }
}
