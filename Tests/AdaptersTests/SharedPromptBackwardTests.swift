import Adapters
import Foundation
import ModelFiles
import Numerics
import Transformer
import XCTest

/// The closure-weighted backward with prompts shared across their completions (`sharingPrompts: true`, see
/// `TransformerModel+SharedPrefixBackward.swift`) against the same backward run sequence by sequence: the loss, the
/// log-probabilities handed to the closure and the adapter gradient agree up to fp32 summation order.
final class SharedPromptBackwardTests: XCTestCase {
    override class func setUp() { BLAS.useSingleThread() }

    /// Shared minus unshared, relative: |Δloss|/|loss|, max |Δlogp|, max |Δg| / max |g|.
    struct Difference: CustomStringConvertible {
        var loss = 0.0, logp = 0.0, gradient = 0.0, gradientScale = 0.0
        var description: String {
            String(format: "loss %.2e, logp %.2e, gradient %.2e (max |g| %.3g)", loss, logp, gradient, gradientScale)
        }
    }

    /// Runs both paths with PPO-like weights `w_t = a_i·e^(logp_t − ref_t)` (data-dependent, mixed signs), checking
    /// that each sequence's closure is called once with `count − start` log-probabilities.
    static func compare(_ adapter: Adapter, _ model: TransformerModel, tokens: [[Int]], starts: [Int],
                        temperature: Float = 0.9) throws -> Difference {
        func run(sharing: Bool) throws -> (loss: Double, gradient: [Float], logps: [Int: [Float]]) {
            var seen: [Int: [Float]] = [:]
            let (loss, gradient) = try adapter.lossAndGradient(model: model, tokens: tokens, completionStart: starts,
                                                               temperature: temperature, sharingPrompts: sharing) { i, logps in
                XCTAssertNil(seen[i], "closure called twice for sequence \(i)")
                XCTAssertEqual(logps.count, tokens[i].count - starts[i])
                seen[i] = logps
                let a: Float = [1.3, -0.7, 0.4, -1.1, 0.9][i % 5]
                return logps.enumerated().map { t, l in a * expf(l - (-3 + 0.05 * Float(t))) }
            }
            XCTAssertEqual(seen.count, tokens.count)
            return (loss, gradient, seen)
        }
        let unshared = try run(sharing: false), shared = try run(sharing: true)
        var d = Difference()
        d.loss = abs(shared.loss - unshared.loss) / abs(unshared.loss)
        for (i, reference) in unshared.logps {
            for (x, y) in zip(shared.logps[i]!, reference) { d.logp = max(d.logp, Double(abs(x - y))) }
        }
        d.gradientScale = Double(unshared.gradient.map(abs).max()!)
        d.gradient = zip(shared.gradient, unshared.gradient).map { Double(abs($0 - $1)) }.max()! / d.gradientScale
        XCTAssertTrue(shared.gradient.allSatisfy(\.isFinite))
        return d
    }

    /// Two prompts × three completions, one prompt with a single completion, one sequence scored from token 1, and
    /// an empty completion; prompt and completion lengths on both sides of the attention's GEMM threshold (8).
    static let tokens: [[Int]] = {
        let a = [3, 17, 5, 42, 8, 1, 9, 30, 2, 11], b = [7, 7, 12], c = [20, 21, 22, 23]
        return [a + [4, 4, 19, 33, 6, 48, 0, 13, 25, 37, 2, 9], b + [40, 1, 2, 3], c + [5, 6, 7], a + [27, 8, 14, 3, 1],
                b + [16, 29, 44, 10, 31, 12, 0, 6, 18, 28, 35], a + [4, 4, 2, 39, 45, 21, 7, 7, 26], b,
                [11, 12, 13, 14, 15, 16]]
    }()
    static let starts = [10, 3, 4, 10, 3, 10, 3, 1]

    func testGroupsArePromptsWithSeveralCompletions() {
        let groups = TransformerModel.sharedPromptGroups(tokens: SharedPromptBackwardTests.tokens,
                                                         completionStart: SharedPromptBackwardTests.starts)
        XCTAssertEqual(groups, [[0, 3, 5], [1, 4, 6], [2], [7]])
        // Same tokens but another start, or another token before the start: not shared; the start's own token
        // (the prompt's last) may differ.
        XCTAssertEqual(TransformerModel.sharedPromptGroups(tokens: [[1, 2, 3, 4], [1, 2, 3, 4], [1, 2, 9, 4], [1, 5, 3, 4]],
                                                           completionStart: [3, 2, 3, 3]),
                       [[0, 2], [1], [3]])
    }

    func testSharedEqualsUnsharedOnTinyModels() throws {
        for bias in [true, false] {
            let (c, w) = try GradientTests.model(bias: bias)
            let model = try TransformerModel(config: c, weights: w, threads: 2)
            for configuration in [AdapterConfiguration(method: .tinyLoRA, rank: 2, u: 3, tying: .tiled(4)),
                                  AdapterConfiguration(method: .lora, rank: 2, alpha: 4)] {
                let plan = try AdapterPlan(configuration: configuration, model: c)
                let adapter = try Adapter(base: try FrozenBase.build(plan: plan, model: c, weights: w),
                                          parameters: Support.gaussian(plan.trainableParameterCount, seed: 4, std: 0.05))
                let d = try SharedPromptBackwardTests.compare(adapter, model, tokens: SharedPromptBackwardTests.tokens,
                                                              starts: SharedPromptBackwardTests.starts)
                print("tiny model (bias \(bias)) \(configuration.method): shared vs unshared \(d)")
                XCTAssertGreaterThan(d.gradientScale, 1e-3)
                XCTAssertLessThan(d.loss, 1e-5)
                XCTAssertLessThan(d.logp, 1e-5)
                XCTAssertLessThan(d.gradient, 1e-5)
            }
        }
    }

    /// Recomputing the layers' activations (over the memory budget) gives the shared path's exact result.
    func testSharedRecomputedEqualsRecorded() throws {
        let (model, adapter) = try ClosureAndTemperatureGradientTests.adapter(bias: true)
        func run() throws -> (loss: Double, gradient: [Float]) {
            try adapter.lossAndGradient(model: model, tokens: SharedPromptBackwardTests.tokens,
                                        completionStart: SharedPromptBackwardTests.starts, temperature: 0.7) { i, logps in
                logps.map { 0.3 * Float(i % 3) - 0.2 + 0.01 * $0 }
            }
        }
        let kept = try run()
        let budget = TransformerModel.recordedActivationBudget
        TransformerModel.recordedActivationBudget = 0
        defer { TransformerModel.recordedActivationBudget = budget }
        let recomputed = try run()
        XCTAssertEqual(kept.loss, recomputed.loss)
        XCTAssertEqual(kept.gradient, recomputed.gradient)
        XCTAssertGreaterThan(kept.gradient.map(abs).max()!, 1e-3)
    }

    /// SmolLM2-135M (real weights), TinyLoRA u = 13 on all modules: 2 prompts × 3 completions.
    func testSharedEqualsUnsharedOnSmolLM2() throws {
        let file = try GGUFFile(path: Support.modelPath("SmolLM2-135M-Instruct.Q4_1.gguf"))
        let config = try TransformerConfig(gguf: file)
        let weights = GGUFWeights(file: file, config: config)
        let model = try TransformerModel(config: config, weights: weights, threads: 2)
        let plan = try AdapterPlan(configuration: .init(method: .tinyLoRA, rank: 2, u: 13, tying: .all, seed: 7),
                                   model: config)
        let adapter = try Adapter(base: try FrozenBase.build(plan: plan, model: config, weights: weights),
                                  parameters: Support.gaussian(13, seed: 3, std: 0.02))
        var rng = Xoshiro256StarStar(seed: 11, stream: 0)
        func random(_ n: Int) -> [Int] { (0 ..< n).map { _ in Int(rng.next(below: 49_000)) + 100 } }
        let prompts = [random(40), random(25)]
        var tokens: [[Int]] = [], starts: [Int] = []
        for g in 0 ..< 3 {
            for prompt in prompts {
                tokens.append(prompt + random(20 + 7 * g))
                starts.append(prompt.count)
            }
        }
        XCTAssertEqual(TransformerModel.sharedPromptGroups(tokens: tokens, completionStart: starts), [[0, 2, 4], [1, 3, 5]])
        let d = try SharedPromptBackwardTests.compare(adapter, model, tokens: tokens, starts: starts)
        print("SmolLM2-135M tinylora u=13, 2 prompts × 3 completions: shared vs unshared \(d)")
        XCTAssertGreaterThan(d.gradientScale, 1e-3)
        XCTAssertLessThan(d.loss, 1e-5)
        XCTAssertLessThan(d.logp, 1e-4)
        XCTAssertLessThan(d.gradient, 1e-4)
    }

    /// Time and peak memory of the GRPO step's forward+backward on Qwen2.5-Coder-0.5B (TinyLoRA u = 13): 2 prompts ×
    /// 8 completions, 100 prompt + ~140 completion tokens. `TINYLORA_SHARED_PROMPT_SPEED=both` (or `on`/`off`, one
    /// path per process, for its VmHWM) runs it.
    func testQwenSharedPromptSpeed() throws {
        guard let mode = ProcessInfo.processInfo.environment["TINYLORA_SHARED_PROMPT_SPEED"] else {
            throw XCTSkip("set TINYLORA_SHARED_PROMPT_SPEED=both|on|off to measure (minutes)")
        }
        let (model, adapter) = try Support.qwenWithTinyLoRA13()
        let afterLoad = BackwardMemoryTests.procStatus("VmHWM") ?? 0
        /// Resets VmHWM to the current RSS (Linux: "5" → /proc/self/clear_refs), so each path's own peak shows.
        func resetPeak() { try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8) }
        var rng = Xoshiro256StarStar(seed: 3, stream: 0)
        func random(_ n: Int) -> [Int] { (0 ..< n).map { _ in Int(rng.next(below: 150_000)) } }
        let prompts = [random(100), random(100)]
        var tokens: [[Int]] = [], starts: [Int] = []
        for prompt in prompts {
            for g in 0 ..< 8 {
                tokens.append(prompt + random(120 + 6 * g))
                starts.append(prompt.count)
            }
        }
        func cpuSeconds() -> Double {
            var usage = rusage()
            getrusage(RUSAGE_SELF.rawValue, &usage)
            return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
                + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
        }
        var results: [Bool: (loss: Double, gradient: [Float])] = [:]
        let paths: [Bool] = mode == "on" ? [true] : mode == "off" ? [false] : [false, true]
        for sharing in paths {
            resetPeak()
            let before = BackwardMemoryTests.procStatus("VmRSS") ?? 0
            let start = Date(), cpu = cpuSeconds()
            results[sharing] = try adapter.lossAndGradient(model: model, tokens: tokens, completionStart: starts,
                                                           temperature: 0.9, sharingPrompts: sharing) { _, logps in
                logps.map { _ in -0.01 }
            }
            let seconds = Date().timeIntervalSince(start), cpuUsed = cpuSeconds() - cpu
            let peak = BackwardMemoryTests.procStatus("VmHWM") ?? 0
            print(String(format: "Qwen2.5-Coder-0.5B 2×8 × (100 + 120…162) tokens, sharing %@: %.1f s wall, %.1f s CPU, "
                + "peak RSS during the call %.3f GB (+%.1f MB over its start; load peak %.2f GB), loss %.4f",
                sharing ? "on" : "off", seconds, cpuUsed, Double(peak) / 1e9, Double(peak - before) / 1e6,
                Double(afterLoad) / 1e9, results[sharing]!.loss))
        }
        if let a = results[false], let b = results[true] {
            let scale = a.gradient.map(abs).max()!
            let dg = zip(a.gradient, b.gradient).map { abs($0 - $1) }.max()! / scale
            print(String(format: "relative differences: loss %.2e, gradient %.2e", abs(a.loss - b.loss) / abs(a.loss), dg))
            XCTAssertLessThan(dg, 1e-4)
        }
    }
}
