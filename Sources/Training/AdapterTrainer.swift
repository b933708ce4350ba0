import Adapters
import Foundation
import Generation
import Numerics
import Tasks
import Tokenizers
import Transformer

/// Trains an adapter's values with GRPO or SFT, writing metrics and checkpoints into a run directory.
///
/// One GRPO step (`settings.method == .grpo`), for P = `promptsPerStep` prompts and G = `groupSize`:
/// 1. rollout: the next P examples (see `DataOrder`) are rendered with the chat template; the generator samples G
///    completions of each at `temperature` with the adapter attached (unmerged low-rank path), random streams
///    seeded by (`seed`, step), so a step's samples depend only on the adapter values, the step and the seed;
/// 2. score: `reward` on each completion's text against the example (`[P·G]`, prompt-major), plus
///    `overlongWeight ·` DAPO's soft overlong punishment of its token count when `overlongBuffer` > 0; a completion
///    cut at `maxNewTokens` scores `truncatedReward` instead of `reward` when that is set;
/// 3. advantages `(r − mean_group)/(std + ε)` (`Advantages`, `rewardScaling`);
/// 4. reference log-probabilities with the adapter detached when β > 0 (`tokenLogProbabilities`);
/// 5. `iterations` times: one forward+backward over prompt+completion sequences whose per-token weights are the
///    GRPO loss's `∂loss/∂logp` (`GRPOLoss.terms`, computed from the current log-probabilities inside the
///    backward; the first pass's log-probabilities are the "old" ones of later passes), then gradient clipping and
///    one AdamW step at the schedule's learning rate. Completions with zero advantage and β = 0 have zero weights and
///    are left out of the backward (they still count in the loss normalisation).
///
/// One SFT step: the next P examples' reference completions (rendered as the assistant turn of the chat template)
/// get the mean next-token loss on completion tokens only; one AdamW step.
///
/// A step whose loss or gradient is not finite is skipped (no update, counted in `skipped`); after
/// `maxConsecutiveNonFinite` such steps in a row the run stops with an error. Checkpoints hold the adapter file, the
/// optimizer state and the run state (step, data cursor, metrics line count, RNG words); resuming from one continues
/// exactly as the uninterrupted run would have.
public final class AdapterTrainer {
    public let model: TransformerModel
    public let tokenizer: Tokenizer
    public let adapter: Adapter
    public let dataset: Dataset
    public let reward: WeightedReward
    public let settings: TrainingSettings
    public let run: RunDirectory
    /// File name of the adapter inside checkpoints and the run directory.
    public static let adapterFileName = "adapter.tla"
    public static let optimizerFileName = "optimizer.json"

    public private(set) var step = 0
    private var cursor = 0
    private var optimizer: AdamW
    private var nonFinite: NonFiniteGuard
    private var order: DataOrder
    private let schedule: LearningRateSchedule
    private let generator: Generator
    /// The weights GRPO rollouts are sampled from (`useRolloutWeights`); everything else runs in fp32.
    public private(set) var rolloutWeights: WeightFormat = .fp32

    /// Samples GRPO rollouts from `format` weights (packed once here): the model switches to them for each
    /// step's generation and back to fp32 before the reference log-probabilities and the backward, whose
    /// log-probabilities and gradients stay exact fp32 (the sampling policy is then the bf16 model's, the ratio's
    /// old policy the fp32 one's). Throws on a CPU without AVX-512 BF16.
    public func useRolloutWeights(_ format: WeightFormat) throws {
        try model.useWeights(format, keepPacked: true)
        try model.useWeights(.fp32, keepPacked: true)
        rolloutWeights = format
    }

    /// The weights the forward+backward passes (GRPO and SFT gradients, GRPO reference log-probabilities) run
    /// from (`useBackwardWeights`).
    public private(set) var backwardWeights: WeightFormat = .fp32

    /// Runs the gradient passes from `format` weights (packed once here): with `.bf16` the recording forward uses
    /// the bf16 copies of W and the input gradients `dY·W` the bf16 copies of Wᵀ (`useBackwardWeights`), about
    /// twice as fast; the gradient is then the bf16 model's (~1% from the fp32 one), the optimizer and the
    /// adapter stay fp32. Throws on a CPU without AVX-512 BF16.
    public func useBackwardWeights(_ format: WeightFormat) throws {
        try model.useWeights(format, keepPacked: true)
        try model.useBackwardWeights(format, keepPacked: true)
        try model.useWeights(.fp32, keepPacked: true)
        try model.useBackwardWeights(.fp32, keepPacked: true)
        backwardWeights = format
    }

    /// `body` with the model's forward and backward in `backwardWeights`, fp32 again afterwards.
    private func withBackwardWeights<T>(_ body: () throws -> T) throws -> T {
        try model.useWeights(backwardWeights, keepPacked: true)
        try model.useBackwardWeights(backwardWeights, keepPacked: true)
        defer {
            try? model.useWeights(.fp32, keepPacked: true)
            try? model.useBackwardWeights(.fp32, keepPacked: true)
        }
        return try body()
    }

    public init(model: TransformerModel, tokenizer: Tokenizer, adapter: Adapter, dataset: Dataset,
                reward: WeightedReward = .standard, settings: TrainingSettings, run: RunDirectory) throws {
        try settings.validate()
        guard !dataset.examples.isEmpty else { throw TaskError("dataset \(dataset.name) has no examples to train on") }
        if settings.method == .sft {
            if let bad = dataset.examples.first(where: { $0.completion == nil }) {
                throw TaskError("SFT needs a reference completion for every example; \(bad.id) of \(dataset.name) has none")
            }
        } else if let bad = dataset.examples.first(where: { $0.goldAnswer == nil }) {
            throw TaskError("GRPO's reward needs a gold answer for every example; \(bad.id) of \(dataset.name) has none")
        }
        self.model = model
        self.tokenizer = tokenizer
        self.adapter = adapter
        self.dataset = dataset
        self.reward = reward
        self.settings = settings
        self.run = run
        optimizer = try AdamW(parameterCount: adapter.parameters.count, beta1: settings.adamBeta1,
                              beta2: settings.adamBeta2, weightDecay: settings.weightDecay)
        nonFinite = NonFiniteGuard(maxConsecutive: settings.maxConsecutiveNonFinite)
        order = try DataOrder(count: dataset.examples.count, seed: settings.seed)
        schedule = try LearningRateSchedule(shape: settings.schedule, peak: settings.learningRate,
                                            warmupRatio: settings.warmupRatio, totalSteps: settings.optimizerSteps)
        generator = Generator(model: model)
        try adapter.setParameters(AdapterTrainer.inStorageType(adapter.parameters, of: adapter))
    }

    /// With a bf16 or fp16 adapter (`parameterDType`), the trained values live in that type: they are rounded to it
    /// at the start and after every update, as parameters of that type would be (an update below half a unit in the
    /// last place is lost); the optimizer's moments stay fp32. fp32 leaves them as they are.
    private static func inStorageType(_ values: [Float], of adapter: Adapter) -> [Float] {
        let dtype = adapter.plan.configuration.parameterDType
        return dtype == .fp32 ? values : values.map(dtype.rounded)
    }

    /// Runs (or, with `resume`, continues) training to `settings.steps`. `onStep` sees every step's metrics.
    /// Returns the metrics of the steps this call ran.
    @discardableResult
    public func train(resume: Bool, progress: ProgressReporter? = nil,
                      onStep: ((MetricsRecord) -> Void)? = nil) throws -> [MetricsRecord] {
        let metrics: MetricsLog
        if resume, let resumed = try run.resume() {
            try restore(resumed.checkpoint, state: resumed.state)
            metrics = resumed.metrics
            for skipped in resumed.checkpoint.skipped {
                progress?.finish()
                FileHandle.standardError.write(Data(("warning: checkpoint \(skipped.directory.lastPathComponent) "
                    + "is unusable (\(skipped.reason)); resumed from step \(step)\n").utf8))
            }
        } else {
            metrics = try run.start(overwrite: !resume)
        }
        defer { metrics.close() }
        let firstStep = step
        let start = Date()
        var records: [MetricsRecord] = []
        try adapter.attach(to: model)
        defer { adapter.detach(from: model) }
        while step < settings.steps {
            let record = try trainStep()
            step += 1
            try metrics.append(record)
            records.append(record)
            onStep?(record)
            progress?.update(ProgressSnapshot(
                step: step, totalSteps: settings.steps, reward: record["reward_mean"], accuracy: record["accuracy"],
                loss: record["loss"], tokensPerSecond: record["tokens_per_second"],
                elapsed: Date().timeIntervalSince(start), firstStep: firstStep))
            let every = settings.checkpointEvery
            if step == settings.steps || (every > 0 && step % every == 0) {
                try saveCheckpoint(metrics: metrics)
            }
        }
        progress?.finish()
        try writeFinalAdapter()
        return records
    }

    /// The trained adapter as a native file in the run directory (`DIR/adapter.tla`), written atomically.
    public var finalAdapterURL: URL { run.url.appendingPathComponent(AdapterTrainer.adapterFileName) }

    private func writeFinalAdapter() throws {
        try AdapterFile(adapter).write(to: finalAdapterURL.path)
    }

    // MARK: Checkpoints

    private func saveCheckpoint(metrics: MetricsLog) throws {
        let state = CheckpointState(step: step, dataCursor: cursor, metricsLines: metrics.lineCount,
                                    rng: [settings.seed, UInt64(cursor)], skippedSteps: nonFinite.skipped)
        // The checkpoint keeps the values in fp32 whatever the adapter's storage type (they are representable in it,
        // see inStorageType), so a resumed run continues from exactly the values the uninterrupted run holds.
        var exact = AdapterFile(adapter)
        exact.configuration.parameterDType = .fp32
        let files: [String: Data] = [
            AdapterTrainer.adapterFileName: Data(try exact.encoded()),
            AdapterTrainer.optimizerFileName: try CheckpointState.jsonData(optimizer),
        ]
        try run.saveCheckpoint(state: state, files: files, metrics: metrics)
    }

    private func restore(_ checkpoint: LoadedCheckpoint, state: CheckpointState) throws {
        let file = try AdapterFile.decode([UInt8](try checkpoint.file(AdapterTrainer.adapterFileName)))
        var configuration = file.configuration
        configuration.parameterDType = adapter.plan.configuration.parameterDType
        guard configuration == adapter.plan.configuration, file.layerCount == adapter.plan.layerCount else {
            throw CheckpointError("checkpoint \(checkpoint.directory.path) holds an adapter of another shape than this "
                + "run's (\(try file.plan().configuration) vs \(adapter.plan.configuration)); use the same sizing flags")
        }
        try file.checkFingerprint(adapter.base.fingerprint)
        try adapter.setParameters(file.parameters)
        let restored = try checkpoint.json(AdamW.self, AdapterTrainer.optimizerFileName)
        guard restored.m.count == adapter.parameters.count else {
            throw CheckpointError("checkpoint \(checkpoint.directory.path): optimizer state for \(restored.m.count) "
                + "parameters, the adapter has \(adapter.parameters.count)")
        }
        guard state.rng.first == settings.seed else {
            throw CheckpointError("checkpoint \(checkpoint.directory.path) was made with --seed \(state.rng.first ?? 0), "
                + "not \(settings.seed); resume with the same settings")
        }
        optimizer = restored
        step = state.step
        cursor = state.dataCursor
        nonFinite = NonFiniteGuard(maxConsecutive: settings.maxConsecutiveNonFinite, skipped: state.skippedSteps)
    }

    // MARK: Steps

    private func nextExamples() -> [Example] {
        let indices = order.indices(from: cursor, length: settings.promptsPerStep)
        cursor += settings.promptsPerStep
        return indices.map { dataset.examples[$0] }
    }

    private func promptTokens(_ example: Example) throws -> [Int] {
        try tokenizer.encodeChat(example.chatMessages, addGenerationPrompt: true)
    }

    private func trainStep() throws -> MetricsRecord {
        switch settings.method {
        case .grpo: return try grpoStep()
        case .sft: return try sftStep()
        }
    }

    /// Applies clipping and one AdamW update at optimizer step `optimizerStep` (0-based); returns (norm, lr) or nil
    /// when the step was skipped as non-finite.
    private func update(loss: Double, gradient: [Float], optimizerStep: Int) throws -> (norm: Double, lr: Float)? {
        guard try nonFinite.check(step: step + 1, loss: loss, gradient: gradient) else { return nil }
        var g = gradient
        let norm = settings.maxGradNorm > 0 ? try GradientClipping.clip(&g, maxNorm: settings.maxGradNorm)
                                            : GradientClipping.l2Norm(g)
        let lr = schedule.learningRate(step: optimizerStep)
        var values = adapter.parameters
        try optimizer.update(&values, gradient: g, learningRate: lr)
        values = AdapterTrainer.inStorageType(values, of: adapter)
        guard values.allSatisfy(\.isFinite) else {
            _ = try nonFinite.check(step: step + 1, loss: .nan)
            return nil
        }
        try adapter.setParameters(values)
        return (norm, lr)
    }

    private func grpoStep() throws -> MetricsRecord {
        let s = settings
        let examples = nextExamples()
        let prompts = try examples.map(promptTokens)
        let rolloutStart = Date()
        var parameters = GenerationParameters(
            maxNewTokens: s.maxNewTokens, sampling: SamplingParameters(temperature: s.temperature, topP: s.topP),
            seed: Xoshiro256StarStar.streamSeed(s.seed, UInt64(step)), stopTokenIds: tokenizer.endOfTurnIds,
            samplesPerPrompt: s.groupSize)
        parameters.maxConcurrentSequences = max(s.rolloutConcurrency, s.groupSize)
        let result: GenerationResult
        try model.useWeights(rolloutWeights, keepPacked: true)
        do {
            defer { try? model.useWeights(.fp32, keepPacked: true) }
            result = try generator.generate(prompts: prompts, parameters: parameters,
                                            decode: { [tokenizer] in (try? tokenizer.decode($0)) ?? "" })
        } catch {
            let norm = Double(adapter.parameters.reduce(0) { $0 + $1 * $1 }).squareRoot()
            throw TrainingMathError("step \(step + 1): the rollout failed (\(error)); the adapter's values (L2 norm "
                + String(format: "%.3g", norm) + ") have probably diverged: lower --lr. The last checkpoint in "
                + "\(run.checkpoints.directory.path) holds the last good state.")
        }
        let completions = result.completions.sorted { ($0.promptIndex, $0.sampleIndex) < ($1.promptIndex, $1.sampleIndex) }
        let rolloutSeconds = Date().timeIntervalSince(rolloutStart)

        // Rewards and advantages.
        let breakdowns = completions.map { reward.evaluate(completion: $0.text ?? "", example: examples[$0.promptIndex]) }
        let truncated = completions.map(\.finishReason.isTruncation)
        let (rewards, overlong) = StepRewards.combine(taskRewards: breakdowns.map(\.total),
                                                      tokenCounts: completions.map(\.tokenIds.count),
                                                      truncated: truncated, settings: s)
        let advantages = try Advantages(rewards: rewards, groupSize: s.groupSize, scaling: s.rewardScaling)
        let masks = completions.enumerated().map { i, c in
            GRPOSequence.completionMask(length: c.tokenIds.count, truncated: truncated[i],
                                        maskTruncated: s.maskTruncatedCompletions)
        }
        let lossSettings = s.resolvedLoss
        let sequences = completions.map { prompts[$0.promptIndex] + $0.tokenIds }
        let starts = completions.map { prompts[$0.promptIndex].count }
        var batch = GRPOBatch(tokens: sequences, completionStart: starts, advantages: advantages.values, masks: masks)

        let backwardStart = Date()
        let (lastResult, lastNorm, lastRate) = try withBackwardWeights {
            try gradientPasses(batch: &batch, step: step, lossSettings: lossSettings)
        }
        let active = (0 ..< completions.count).filter { advantages.values[$0] != 0 && masks[$0].contains(true) }
        let backwardSeconds = Date().timeIntervalSince(backwardStart)

        var record = MetricsRecord()
        record["step"] = Double(step + 1)
        let n = Double(rewards.count)
        let meanReward = rewards.reduce(0) { $0 + Double($1) } / n
        record["reward_mean"] = meanReward
        record["reward_std"] = (rewards.reduce(0) { $0 + (Double($1) - meanReward) * (Double($1) - meanReward) } / n).squareRoot()
        for (k, term) in reward.terms.enumerated() {
            let values = breakdowns.map { $0.values[k].value }
            record["reward_\(term.function.name)_mean"] = values.reduce(0, +) / n
        }
        if let overlong { record["reward_overlong_mean"] = overlong.reduce(0, +) / n }
        let correct = completions.map { c in
            answerMatches(extractAnswer(c.text ?? ""), gold: examples[c.promptIndex].goldAnswer ?? "")
        }
        record["accuracy"] = Double(correct.filter { $0 }.count) / n
        record["zero_spread_fraction"] = advantages.zeroSpreadFraction
        let lengths = completions.map { Double($0.tokenIds.count) }
        record["completion_length_mean"] = lengths.reduce(0, +) / n
        record["completion_length_max"] = lengths.max() ?? 0
        record["truncated_fraction"] = Double(truncated.filter { $0 }.count) / n
        record["loss"] = lastResult?.loss ?? 0
        record["clip_ratio_low"] = lastResult?.clipRatioLow ?? 0
        record["clip_ratio_high"] = lastResult?.clipRatioHigh ?? 0
        record["clip_ratio_region"] = lastResult?.clipRatioRegion ?? 0
        if lossSettings.beta > 0 { record["kl"] = lastResult?.meanKL ?? 0 }
        record["learning_rate"] = AdapterTrainer.decimal(lastRate)
        record["grad_norm"] = lastNorm ?? .nan
        record["rollout_seconds"] = rolloutSeconds
        record["backward_seconds"] = backwardSeconds
        let generated = Double(result.statistics.generatedTokens)
        record["tokens_per_second"] = rolloutSeconds > 0 ? generated / rolloutSeconds : 0
        record["backward_sequences"] = Double(active.count)
        record["skipped_steps"] = Double(nonFinite.skipped)
        record["adapter_norm"] = Double(adapter.parameters.reduce(0) { $0 + $1 * $1 }).squareRoot()
        return record
    }

    /// A Float as the Double of its shortest decimal form (0.005, not 0.004999999888241291), for metrics.
    static func decimal(_ x: Float) -> Double { Double("\(x)") ?? Double(x) }

    /// One GRPO step's gradient passes: the reference log-probabilities (β > 0, adapter detached), then
    /// `iterations` forward+backward passes, each followed by an optimizer update. Returns the last pass's loss
    /// terms, gradient norm and learning rate.
    private func gradientPasses(batch: inout GRPOBatch, step: Int, lossSettings: GRPOLossConfiguration) throws
        -> (GRPOLossResult?, Double?, Float) {
        let s = settings
        if lossSettings.beta > 0 {
            adapter.detach(from: model)
            defer { try? adapter.attach(to: model) }
            batch.referenceLogps = try model.tokenLogProbabilities(tokens: batch.tokens, completionStart: batch.completionStart,
                                                                   temperature: s.temperature)
        }
        var lastResult: GRPOLossResult? = nil
        var lastNorm: Double? = nil, lastRate: Float = schedule.learningRate(step: step * s.iterations)
        for iteration in 0 ..< s.iterations {
            let pass: GRPOGradient
            do {
                pass = try GRPOLoss.lossAndGradient(adapter: adapter, model: model, batch: batch,
                                                    temperature: s.temperature, configuration: lossSettings)
            } catch let error as TrainingMathError {
                // Non-finite log-probabilities (the only way a well-formed batch fails): skip this update.
                guard try nonFinite.check(step: step + 1, loss: .nan) else { continue }
                throw error
            }
            if iteration == 0 { batch.oldLogps = pass.logps }
            lastResult = pass.result
            if let (norm, lr) = try update(loss: pass.result.loss, gradient: pass.gradient,
                                           optimizerStep: step * s.iterations + iteration) {
                lastNorm = norm
                lastRate = lr
            }
        }
        return (lastResult, lastNorm, lastRate)
    }

    private func sftStep() throws -> MetricsRecord {
        let examples = nextExamples()
        var sequences: [[Int]] = [], starts: [Int] = []
        for example in examples {
            let prompt = try promptTokens(example)
            let chat = example.chatMessages + [ChatMessage(role: "assistant", content: example.completion ?? "")]
            let full = try tokenizer.encodeChat(chat, addGenerationPrompt: false)
            guard full.count > prompt.count, Array(full[..<prompt.count]) == prompt else {
                throw TaskError("example \(example.id): the chat template does not render the prompt as a prefix of the "
                    + "prompt with its completion, so the completion tokens cannot be separated")
            }
            sequences.append(full)
            starts.append(prompt.count)
        }
        let start = Date()
        let (loss, gradient, tokens) = try withBackwardWeights {
            try SFTLoss.lossAndGradient(adapter: adapter, model: model, tokens: sequences, completionStart: starts)
        }
        // `loss` is Σ w·logp with w = −1/N on completion tokens: the mean negative log-likelihood.
        let result = try update(loss: loss, gradient: gradient, optimizerStep: step)
        let seconds = Date().timeIntervalSince(start)
        var record = MetricsRecord()
        record["step"] = Double(step + 1)
        record["loss"] = loss
        record["tokens"] = Double(tokens)
        record["learning_rate"] = AdapterTrainer.decimal(result?.lr ?? schedule.learningRate(step: step))
        record["grad_norm"] = result?.norm ?? .nan
        record["backward_seconds"] = seconds
        record["tokens_per_second"] = seconds > 0 ? Double(sequences.reduce(0) { $0 + $1.count }) / seconds : 0
        record["skipped_steps"] = Double(nonFinite.skipped)
        record["adapter_norm"] = Double(adapter.parameters.reduce(0) { $0 + $1 * $1 }).squareRoot()
        return record
    }
}
