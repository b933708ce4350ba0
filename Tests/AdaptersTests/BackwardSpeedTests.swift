import Adapters
import Foundation
import ModelFiles
import Numerics
import Transformer
import XCTest

/// Throughput of the GRPO step's model work on Qwen2.5-Coder-0.5B with a 13-parameter TinyLoRA: a rollout-sized
/// batch of 8 sequences × 200 tokens (50 prompt + 150 completion). Runs only with `TINYLORA_SPEED_TEST=1`.
final class BackwardSpeedTests: XCTestCase {
    override class func setUp() { BLAS.useSingleThread() }

    func testQwenRolloutBatchThroughput() throws {
        guard ProcessInfo.processInfo.environment["TINYLORA_SPEED_TEST"] == "1" else {
            throw XCTSkip("set TINYLORA_SPEED_TEST=1 to measure (minutes)")
        }
        let (model, adapter) = try Support.qwenWithTinyLoRA13()
        var rng = Xoshiro256StarStar(seed: 3, stream: 0)
        let sequences = Int(ProcessInfo.processInfo.environment["TINYLORA_SPEED_SEQUENCES"] ?? "8")!
        let prompt = 50, length = 200
        let tokens = (0 ..< sequences).map { _ in (0 ..< length).map { _ in Int(rng.next() % 150_000) } }
        let total = Double(sequences * length)
        /// Process CPU time (user + system), which is steadier than wall time on a shared machine.
        func cpuSeconds() -> Double {
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
                + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        }
        func timed<T>(_ label: String, _ body: () throws -> T) rethrows -> T {
            let start = Date(), cpu = cpuSeconds()
            let value = try body()
            let s = Date().timeIntervalSince(start), c = cpuSeconds() - cpu
            print(String(format: "%@: %.2f s wall (%.0f tokens/s), %.2f s CPU (%.0f tokens per CPU-second)", label, s,
                         total / s, c, total / c))
            return value
        }
        let chunks = (ProcessInfo.processInfo.environment["TINYLORA_SPEED_CHUNKS"] ?? "128").split(separator: ",")
            .map { Int($0)! }
        let starts = tokens.map { _ in prompt }
        let fixed = tokens.map { _ in [Float](repeating: 0, count: prompt - 1) + [Float](repeating: -0.01, count: length - prompt) }
        var a = (loss: 0.0, gradient: [Float]()), b = a
        for chunk in chunks {
            let reference = try timed("chunk \(chunk): tokenLogProbabilities (adapter off), \(sequences)×\(length)") {
                try model.tokenLogProbabilities(tokens: tokens, completionStart: starts, temperature: 0.9,
                                                vocabularyChunk: chunk)
            }
            a = try timed("chunk \(chunk): backward, fixed weights on the completion") {
                try adapter.lossAndGradient(model: model, tokens: tokens, weights: fixed, temperature: 0.9,
                                            vocabularyChunk: chunk)
            }
            b = try timed("chunk \(chunk): backward, closure weights (GRPO path)") {
                try adapter.lossAndGradient(model: model, tokens: tokens, completionStart: starts, temperature: 0.9,
                                            vocabularyChunk: chunk) { i, logps in
                    XCTAssertEqual(logps.count, reference[i].count)
                    return logps.map { _ in -0.01 }
                }
            }
        }
        XCTAssertEqual(a.loss, b.loss, accuracy: 1e-3 * abs(a.loss))
        XCTAssertTrue(a.gradient.allSatisfy(\.isFinite))
    }
}
