import Adapters
import Foundation
import Numerics
import Transformer

extension Bench {
    /// --backward: the time of one `Adapter.lossAndGradient` (forward and backward through the whole model with the
    /// adapter attached) on `batch` sequences of `promptTokens` random token ids (seeded like the generation prompts).
    ///
    /// The adapter is TinyLoRA with r = 2, u = `u`, on all seven projections of every layer, every module tied to one
    /// v (u trained values), v = 0 as after `adapter init`. The loss is the mean next-token log-likelihood,
    /// `L = Σ_i Σ_t w·log p(token_{t+1})` with `w = −1 / (batch·(promptTokens − 1))` for every predicted token, so the
    /// LM head runs for every position. Timed: that one call only (not loading the model, not building the frozen
    /// factors, not packing bf16 copies). With `--weights bf16` the forward and the input gradients run from bf16
    /// copies of W and Wᵀ (what `train --backward-weights bf16` does). JSON: {"model", "threads", "weights", "sequences", "tokens" (per sequence), "trainable_parameters", "modules",
    /// "load_seconds", "factor_seconds", "seconds" (wall clock of the call), "cpu_seconds" (process CPU time during
    /// it), "loss", "gradient_norm", "peak_rss_mb" (VmHWM, including loading)}.
    func runBackward() throws {
        guard promptTokens >= 2 else { throw CLIError("--backward needs --prompt-tokens >= 2 (one token is predicted from the one before)") }
        guard u >= 1 else { throw CLIError("--u must be >= 1, not \(u)") }
        let format = try WeightsOption.parse(weights, forwardOnly: false)
        let opened = try modelOptions.open()
        let loadStart = now()
        // As `train --weights bf16 --backward-weights bf16`: a GGUF model's quantized layers then keep only their
        // blocks (the bf16 copies are packed from them; no fp32 copy).
        let model = try opened.transformer(rolloutsIn: format, backwardIn: format)
        let loadSeconds = now() - loadStart
        guard promptTokens <= model.contextLength else {
            throw CLIError("--prompt-tokens \(promptTokens) exceeds the model's context of \(model.contextLength)")
        }
        let configuration = AdapterConfiguration(method: .tinyLoRA, rank: 2, u: u, tying: .all)
        let plan = try AdapterPlan(configuration: configuration, model: model.config)
        let factorStart = now()
        let base = try FrozenBase.build(plan: plan, model: model.config, weights: try opened.weightSource(model.config),
                                        threads: opened.threads)
        let factorSeconds = now() - factorStart
        let adapter = try Adapter(base: base)
        // --weights bf16: the forward and the input gradients from bf16 copies of W and Wᵀ (training's
        // --backward-weights bf16); packing is not timed.
        try model.useWeights(format)
        try model.useBackwardWeights(format)

        var random = Xoshiro256StarStar(seed: seed)
        let tokens = (0 ..< batch).map { _ in
            (0 ..< promptTokens).map { _ in Int(random.next(below: UInt64(model.vocabularySize))) }
        }
        let w = -1 / Float(batch * (promptTokens - 1))
        let weights = tokens.map { [Float](repeating: w, count: $0.count - 1) }

        let cpuStart = processCPUSeconds()
        let start = now()
        let (loss, gradient) = try adapter.lossAndGradient(model: model, tokens: tokens, weights: weights)
        let seconds = now() - start
        let cpuSeconds = processCPUSeconds() - cpuStart
        let norm = Double(gradient.reduce(0) { $0 + $1 * $1 }).squareRoot()
        let rss = peakResidentMiB() ?? 0
        if json {
            print(JSON.object([
                ("model", JSON.string(opened.location.path)),
                ("threads", "\(modelOptions.threadCount)"),
                ("weights", JSON.string(format.rawValue)),
                ("sequences", "\(batch)"),
                ("tokens", "\(promptTokens)"),
                ("trainable_parameters", "\(plan.trainableParameterCount)"),
                ("modules", "\(plan.modules.count)"),
                ("load_seconds", JSON.number(loadSeconds)),
                ("factor_seconds", JSON.number(factorSeconds)),
                ("seconds", JSON.number(seconds)),
                ("cpu_seconds", JSON.number(cpuSeconds)),
                ("loss", JSON.number(loss)),
                ("gradient_norm", JSON.number(norm)),
                ("peak_rss_mb", JSON.number(rss)),
            ]))
        } else {
            print("model:    \(opened.location.path) (\(modelOptions.threadCount) threads, loaded in \(String(format: "%.1f", loadSeconds)) s, factors in \(String(format: "%.1f", factorSeconds)) s)")
            print("backward: \(batch) × \(promptTokens) tokens, TinyLoRA u=\(u) tied over \(plan.modules.count) modules: \(String(format: "%.2f", seconds)) s (CPU \(String(format: "%.2f", cpuSeconds)) s), loss \(String(format: "%.4f", loss)), |gradient| \(String(format: "%.3g", norm))")
            print("peak RSS: \(String(format: "%.0f", rss)) MiB")
        }
    }
}
