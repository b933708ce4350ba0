import Adapters
import ArgumentParser
import Foundation
import ModelFiles
import Tasks
import Tokenizers
import Training
import Transformer

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train an adapter with GRPO (reinforcement learning on a verifiable reward) or SFT.",
        discussion: """
        GRPO: each step samples --group completions for each of --batch prompts (temperature --temperature, at most \
        --max-tokens new tokens), scores them with --reward (default: 1 when the extracted final answer equals the \
        gold answer), turns rewards into group-relative advantages and takes --iterations AdamW steps on the clipped \
        surrogate (TRL GRPOTrainer semantics: --loss-type dapo|grpo|dr_grpo, --epsilon/--epsilon-high, --beta KL to \
        the base model). SFT: next-token loss on each example's reference completion, prompt masked. \
        Without --data, training uses the built-in generator (arith:split=train). \
        Writes DIR/metrics.jsonl (one JSON object per step), checkpoints under DIR/checkpoints (adapter, optimizer \
        and RNG state, atomic; every --checkpoint-every steps and at the end) and the trained adapter DIR/adapter.tla. \
        After an interruption (even kill -9), the same command with --resume continues from the last good \
        checkpoint and ends with the same adapter as an uninterrupted run. Every option can also be given in a YAML \
        or JSON file with --config (keys are option names; the command line wins); see examples/train-config.yaml.
        """)

    @Option(help: "YAML or JSON file of options (keys are option names without dashes); command-line options win.")
    var config: String?

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var sizing: AdapterSizingOptions

    @Option(help: "grpo or sft.")
    var method: String = "grpo"

    @Option(help: "Seed of the adapter's fixed random projections P (and LoRA's initial A).")
    var adapterSeed: UInt64 = 42

    @Option(help: "The type the trained values live in: fp32, bf16 or fp16. bf16/fp16 values are rounded to it after every update (the optimizer's moments stay fp32) and the saved adapter stores them in it.")
    var dtype: String = "fp32"

    @Option(help: "Training data: a JSONL file or a built-in name (arith[:...]; gsm8k-test works but is the evaluation set).")
    var data: String = "arith:split=train"

    @OptionGroup var questionFormat: QuestionFormatOptions

    @Option(help: "Training steps (rollout batches for GRPO, example batches for SFT).")
    var steps = 20

    @Option(help: "Prompts (GRPO) or examples (SFT) per step.")
    var batch = 4

    @Option(help: "GRPO: completions sampled per prompt (>= 2).")
    var group = 4

    @Option(help: "GRPO: most new tokens per sampled completion.")
    var maxTokens = 256

    @Option(help: "GRPO: sampling temperature of rollouts (log-probabilities are taken at the same temperature).")
    var temperature: Float = 1

    @Option(help: "GRPO: nucleus sampling of rollouts (1 = off).")
    var topP: Float = 1

    @Option(help: "Peak learning rate (AdamW).")
    var lr: Float = 1e-3

    @Option(help: "Learning-rate schedule after warm-up: constant or cosine.")
    var schedule: String = "constant"

    @Option(help: "Fraction of optimizer steps in linear warm-up.")
    var warmupRatio: Double = 0

    @Option(help: "AdamW decoupled weight decay.")
    var weightDecay: Double = 0

    @Option(help: "Clip gradients to this global L2 norm (0 = off).")
    var maxGradNorm: Float = 1

    @Option(help: "GRPO: lower clip ε of the importance ratio.")
    var epsilon: Float = 0.2

    @Option(help: "GRPO: upper clip ε (default: --epsilon).")
    var epsilonHigh: Float?

    @Option(help: "GRPO: KL coefficient β to the base model (the model with the adapter off); 0 = no KL term.")
    var beta: Float = 0

    @Option(help: "GRPO loss aggregation: dapo (token mean), grpo (sequence mean) or dr_grpo.")
    var lossType: String = "dapo"

    @Option(help: "GRPO advantage scaling: group, batch or none.")
    var scaleRewards: String = "group"

    @Option(help: "GRPO: optimizer steps per rollout batch (importance ratios from the second on).")
    var iterations = 1

    @Flag(help: "GRPO: give no loss to completions cut at --max-tokens.")
    var maskTruncated = false

    @Option(help: "GRPO: the reward of completions cut at --max-tokens, instead of --reward's value (e.g. 0: only finished answers earn reward; default: scored like the others).")
    var truncatedReward: Double?

    @Option(help: "GRPO: DAPO's soft overlong punishment: completions longer than --max-tokens minus N get a penalty rising linearly to -1 at --max-tokens (0 = off).")
    var overlongBuffer = 0

    @Option(help: "GRPO: weight of the overlong punishment in the reward.")
    var overlongWeight = 1.0

    @Option(help: "Reward: built-in functions with weights, e.g. 'correct' or 'correct,format=0.2' (correct: 1 when the extracted answer equals the gold one; format: 1 when the completion ends with a '#### N' answer).")
    var reward: String = "correct"

    @Option(help: "Seed of the data order and the rollout sampling.")
    var seed: UInt64 = 0

    @Option(help: "Save a checkpoint every N steps (and after the last; 0 = only after the last).")
    var checkpointEvery = 10

    @Option(help: "Checkpoints kept.")
    var keepCheckpoints = 3

    @Option(help: "Run directory: metrics.jsonl, checkpoints/, adapter.tla.")
    var out: String

    @Flag(help: "Continue the run in --out from its last good checkpoint.")
    var resume = false

    @Option(help: "Start from this native adapter's values instead of the initial ones (TinyLoRA v = 0): a .tla file for this model with the same sizing options (--kind, --r, --u, tying, --targets, --layers, --alpha, --adapter-seed, --dtype), e.g. an SFT-trained adapter to continue with GRPO. A run continued with --resume starts from its checkpoint instead.")
    var initAdapter: String?

    @Option(help: "GRPO: weights the rollouts are sampled from: fp32, bf16 (a bf16 copy of every linear layer and the LM head, AVX-512 BF16 products: faster rollouts; needs avx512_bf16) or native (a GGUF model's own quantized blocks, mapped from the file). Only the rollouts: the backward's weights are --backward-weights.")
    var weights = "fp32"

    @Option(help: "Weights of the forward+backward passes that give the gradient (GRPO and SFT; also GRPO's KL reference): fp32 (exact) or bf16 (bf16 copies of W and of Wᵀ for every linear layer and the LM head: about twice as fast, the gradient within ~1-2% of the fp32 one; needs avx512_bf16). The adapter, its gradient path and the optimizer stay fp32.")
    var backwardWeights = "fp32"

    @Flag(help: "Print a JSON summary at the end instead of the readable one.")
    var json = false

    func validate() throws {
        if let c = config, !FileManager.default.fileExists(atPath: c) {
            throw ValidationError("--config \(c): no such file")
        }
        _ = try WeightsOption.parse(weights)
        _ = try WeightsOption.parse(backwardWeights, option: "--backward-weights", forwardOnly: false)
    }

    /// The settings these options describe (checked).
    func settings() throws -> TrainingSettings {
        var s = TrainingSettings()
        guard let m = TrainingMethod(rawValue: method) else { throw CLIError("--method must be grpo or sft, not \(method)") }
        s.method = m
        s.steps = steps
        s.promptsPerStep = batch
        s.groupSize = group
        s.maxNewTokens = maxTokens
        s.temperature = temperature
        s.topP = topP
        s.learningRate = lr
        guard let shape = LearningRateSchedule.Shape(rawValue: schedule) else {
            throw CLIError("--schedule must be constant or cosine, not \(schedule)")
        }
        s.schedule = shape
        s.warmupRatio = warmupRatio
        s.weightDecay = weightDecay
        s.maxGradNorm = maxGradNorm
        guard let aggregation = LossAggregation(rawValue: lossType) else {
            throw CLIError("--loss-type must be dapo, grpo or dr_grpo, not \(lossType)")
        }
        s.loss = GRPOLossConfiguration(epsilonLow: epsilon, epsilonHigh: epsilonHigh, beta: beta, aggregation: aggregation)
        guard let scaling = RewardScaling(rawValue: scaleRewards) else {
            throw CLIError("--scale-rewards must be group, batch or none, not \(scaleRewards)")
        }
        s.rewardScaling = scaling
        s.iterations = iterations
        s.maskTruncatedCompletions = maskTruncated
        s.overlongBuffer = overlongBuffer
        s.truncatedReward = truncatedReward
        s.overlongWeight = overlongWeight
        s.seed = seed
        s.checkpointEvery = checkpointEvery
        s.keepCheckpoints = keepCheckpoints
        do { try s.validate() } catch let e as TrainingMathError { throw CLIError(e.description) }
        return s
    }

    func run() throws {
        // Everything that can fail on bad input is checked before the model is loaded.
        if (try? DatasetSubset.split(data).base) == DatasetSources.gsm8kTest.name {
            printErr("warning: gsm8k-test is the evaluation set: a model trained on it can no longer be evaluated on it")
        }
        let s = try settings()
        let rolloutWeights = try WeightsOption.parse(weights)
        if rolloutWeights != .fp32, s.method == .sft {
            throw CLIError("--weights \(weights) sets the weights of GRPO rollouts; SFT has none (it runs in fp32)")
        }
        let storage = try ParameterDType(parsing: dtype)
        let adapterConfiguration = try sizing.configuration(seed: adapterSeed, dtype: storage)
        let rewardFunction = try WeightedReward.parse(reward)
        let format = questionFormat.format
        let dataset = try Dataset.load(data, prompt: format)
        let initialFile = try initAdapter.map { path in
            do { return try AdapterFile.read(path: path) } catch let e as AdapterError {
                throw CLIError("--init-adapter: \(e.description)")
            }
        }
        let runDirectory = try RunDirectory(url: URL(fileURLWithPath: out), keep: s.keepCheckpoints)
        if !resume, !(try runDirectory.checkpoints.stepDirectories()).isEmpty {
            throw CLIError("\(out) already holds a training run; continue it with --resume or choose another --out")
        }

        let opened = try modelOptions.open()
        let tokenizer = try opened.tokenizer()
        let backwardFormat = try WeightsOption.parse(backwardWeights, option: "--backward-weights", forwardOnly: false)
        let model = try opened.transformer(rolloutsIn: rolloutWeights, backwardIn: backwardFormat)
        let plan = try AdapterPlan(configuration: adapterConfiguration, model: model.config)
        let base = try FrozenBase.build(plan: plan, model: model.config, weights: try opened.weightSource(model.config),
                                        threads: opened.threads)
        let adapter = try initialFile.map { try Self.initialAdapter($0, plan: plan, base: base, model: model.config) }
            ?? Adapter(base: base)
        let trainer = try AdapterTrainer(model: model, tokenizer: tokenizer, adapter: adapter, dataset: dataset,
                                         reward: rewardFunction, settings: s, run: runDirectory)
        try trainer.useRolloutWeights(rolloutWeights)
        try trainer.useBackwardWeights(backwardFormat)
        if !json {
            printErr("training \(plan.trainableParameterCount) parameters (\(adapterConfiguration.method), "
                + "\(plan.groupCount) group(s) over \(plan.modules.count) modules) with \(s.method.rawValue) on "
                + "\(dataset.name) (\(dataset.count) examples), \(s.steps) steps")
        }
        let start = Date()
        let records = try trainer.train(resume: resume, progress: ProgressReporter())
        let seconds = Date().timeIntervalSince(start)
        let size = (try? FileManager.default.attributesOfItem(atPath: trainer.finalAdapterURL.path)[.size] as? Int) ?? 0
        let last = records.last
        if json {
            var fields = ["\"adapter\":\(JSONText.quoted(trainer.finalAdapterURL.path))", "\"adapter_bytes\":\(size)",
                          "\"trainable_parameters\":\(plan.trainableParameterCount)", "\"steps\":\(trainer.step)",
                          "\"seconds\":\(jsonNumber(seconds))"]
            if let r = last?["reward_mean"] { fields.append("\"final_reward_mean\":\(jsonNumber(r))") }
            if let l = last?["loss"] { fields.append("\"final_loss\":\(jsonNumber(l))") }
            print("{" + fields.joined(separator: ",") + "}")
        } else {
            print("adapter: \(trainer.finalAdapterURL.path) (\(size) bytes, \(plan.trainableParameterCount) parameters)")
            print("metrics: \(runDirectory.metricsURL.path)")
            print(String(format: "time: %.1f s for %d step(s)", seconds, records.count))
        }
    }
}

extension Train {
    /// `--init-adapter`'s adapter on this run's frozen base: it must have been built for this model (shapes,
    /// base fingerprint) with the sizing this run's options give (the same plan, so the values mean the same).
    static func initialAdapter(_ file: AdapterFile, plan: AdapterPlan, base: FrozenBase, model: TransformerConfig) throws
        -> Adapter {
        do {
            try file.checkShapes(model)
            let filePlan = try file.plan()
            guard filePlan == plan else {
                throw CLIError("--init-adapter: the adapter was built as \(filePlan.jsonSummary) with values in "
                    + "\(filePlan.configuration.parameterDType); this run's options give \(plan.jsonSummary) with "
                    + "values in \(plan.configuration.parameterDType): pass the adapter's own sizing options")
            }
            return try file.adapter(base: base)
        } catch let e as AdapterError {
            throw CLIError("--init-adapter: \(e.description)")
        }
    }
}

private func jsonNumber(_ x: Double) -> String { x.isFinite ? "\(x)" : "null" }
