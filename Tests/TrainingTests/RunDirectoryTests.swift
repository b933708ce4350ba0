import Foundation
import Training
import XCTest

/// A toy training loop over RunDirectory: its "adapter" is a running sum driven by a seeded generator, its
/// metrics one line per step, a checkpoint every 3 steps. A run stopped after `stopAfter` steps and resumed must
/// end with the same adapter bytes and metrics file as an uninterrupted run.
final class RunDirectoryTests: XCTestCase {
    var dir: TemporaryDirectory!
    override func setUpWithError() throws { dir = try TemporaryDirectory("rundir") }
    override func tearDown() { dir.remove() }

    struct Toy {
        var rng: UInt64
        var sum: UInt64 = 0
        var cursor = 0
        mutating func step() -> Double {
            rng = rng &* 6364136223846793005 &+ 1442695040888963407
            sum = sum &+ (rng >> 33)
            cursor += 2
            return Double(rng >> 40) / Double(1 << 24)
        }
        var adapter: Data { withUnsafeBytes(of: sum.littleEndian) { Data($0) } }
    }

    /// Runs steps up to `total` (or stops after `stopAfter` steps of this process); returns the final adapter.
    func train(_ url: URL, total: Int, resume: Bool, stopAfter: Int? = nil) throws -> Data {
        let run = try RunDirectory(url: url, keep: 2)
        var toy = Toy(rng: 42)
        var metrics: MetricsLog
        var first = 1
        if resume, let r = try run.resume() {
            toy.rng = r.state.rng[0]
            toy.cursor = r.state.dataCursor
            toy.sum = try r.checkpoint.file("adapter.bin").withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }
            metrics = r.metrics
            first = r.state.step + 1
        } else {
            metrics = try run.start(overwrite: false)
        }
        var ran = 0
        for step in first ... total {
            if let stopAfter, ran == stopAfter { return Data() }  // "kill -9": nothing more is written
            let reward = toy.step()
            var record = MetricsRecord()
            record["step"] = Double(step)
            record["reward_mean"] = reward
            try metrics.append(record)
            if step % 3 == 0 {
                try run.saveCheckpoint(state: CheckpointState(step: step, dataCursor: toy.cursor, metricsLines: -1, rng: [toy.rng]),
                                       files: ["adapter.bin": toy.adapter], metrics: metrics)
            }
            ran += 1
        }
        return toy.adapter
    }

    func testResumedRunEqualsUninterruptedRun() throws {
        let a = dir.url.appendingPathComponent("a"), b = dir.url.appendingPathComponent("b")
        let straight = try train(a, total: 10, resume: false)
        XCTAssertEqual(try train(b, total: 10, resume: false, stopAfter: 7), Data())
        XCTAssertEqual(try MetricsLog.read(b.appendingPathComponent("metrics.jsonl")).count, 7)
        let resumed = try train(b, total: 10, resume: true)
        XCTAssertEqual(resumed, straight)
        XCTAssertEqual(try Data(contentsOf: b.appendingPathComponent("metrics.jsonl")),
                       try Data(contentsOf: a.appendingPathComponent("metrics.jsonl")))
        let state = try XCTUnwrap(try RunDirectory(url: b).resume()).state
        XCTAssertEqual(state.step, 9)
        XCTAssertEqual(state.metricsLines, 9)
        XCTAssertEqual(try RunDirectory(url: b).checkpoints.stepDirectories().map(\.step), [6, 9])
    }

    func testStartRefusesAnExistingRunUnlessOverwriting() throws {
        let a = dir.url.appendingPathComponent("a")
        _ = try train(a, total: 4, resume: false)
        let run = try RunDirectory(url: a)
        XCTAssertThrowsError(try run.start(overwrite: false)) {
            XCTAssertTrue(String(describing: $0).contains("already holds a run (step-000003)"), "\($0)")
        }
        let metrics = try run.start(overwrite: true)
        XCTAssertEqual(metrics.lineCount, 0)
        XCTAssertNil(try run.resume())
    }
}
