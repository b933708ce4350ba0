import Foundation
import XCTest

/// `adapter init --random-v`: v ~ N(0, 1) scaled by --random-scale/√u (default 0.1) changes SmolLM2's logits visibly
/// (more than 0.1) but not into garbage (the top token stays, no logit moves by 5 or more), for each adapter kind.
final class RandomAdapterTests: TemporaryDirectoryTestCase {
    /// The last position's top-40 logits by id.
    func logits(_ extra: [String]) throws -> (top: Int, byId: [Int: Double]) {
        let r = try CLI.run(["score", "--model", try CLI.modelPath("smollm2-135m"), "--text",
                             "The capital of France is Paris. The capital of Germany is", "--top-k", "40", "--json"] + extra)
        XCTAssertEqual(r.status, 0, r.stderr)
        let positions = try XCTUnwrap(try CLI.jsonObject(r)["positions"] as? [[String: Any]])
        let top = try XCTUnwrap(positions.last?["top"] as? [[NSNumber]])
        var byId: [Int: Double] = [:]
        for pair in top { byId[pair[0].intValue] = pair[1].doubleValue }
        return (top[0][0].intValue, byId)
    }

    func testRandomVVisiblyChangesTheLogits() throws {
        let base = try logits([])
        let sizings: [[String]] = [[], ["--u", "13", "--tie", "all"], ["--kind", "loraxs"], ["--kind", "lora"],
                                   ["--u", "4", "--structured"]]
        for (k, sizing) in sizings.enumerated() {
            let path = dir + "/a\(k).tla"
            let r = try CLI.run(["adapter", "init", "--model", try CLI.modelPath("smollm2-135m"), "--random-v",
                                 "--seed", "11", "--out", path] + sizing)
            XCTAssertEqual(r.status, 0, r.stderr)
            let adapted = try logits(["--adapter", path])
            let common = Set(base.byId.keys).intersection(adapted.byId.keys)
            XCTAssertGreaterThan(common.count, 20, "\(sizing)")
            let change = common.map { abs(adapted.byId[$0]! - base.byId[$0]!) }.max() ?? 0
            print("--random-v \(sizing.joined(separator: " ")): max |Δlogit| over the top ids \(change)")
            XCTAssertGreaterThan(change, 0.1, "\(sizing): the adapter must visibly change the logits")
            XCTAssertLessThan(change, 5, "\(sizing): the adapter must not turn the output into garbage")
            XCTAssertEqual(adapted.top, base.top, "\(sizing)")
        }
    }

    func testRandomScaleFlags() throws {
        let model = try CLI.modelPath("smollm2-135m")
        let out = dir + "/x.tla"
        assertCleanError(try CLI.run(["adapter", "init", "--model", model, "--random-v", "--random-scale", "0",
                                      "--out", out]), contains: "--random-scale")
        assertCleanError(try CLI.run(["adapter", "init", "--model", model, "--random-scale", "0.2", "--out", out]),
                         contains: "--random-v")
        assertCleanError(try CLI.run(["adapter", "init", "--model", model, "--random-v", "--random-std", "1",
                                      "--out", out]), contains: "--random-std")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        let help = try CLI.run(["adapter", "init", "--help"])
        XCTAssertTrue(help.stdout.contains("--random-scale"), help.stdout)
    }
}
