import Foundation

/// What a training step optimises.
public enum TrainingMethod: String, Codable, CaseIterable, Sendable {
    /// Group Relative Policy Optimization on a verifiable reward (TRL's `GRPOTrainer` semantics).
    case grpo
    /// Supervised fine-tuning: next-token loss on the reference completion, prompt masked.
    case sft
}

/// Every setting of a training run except the model, adapter and data (those are inputs of `AdapterTrainer`).
///
/// A "step" is one batch of `promptsPerStep` prompts. GRPO samples `groupSize` completions per prompt, scores them,
/// and takes `iterations` optimizer steps on that rollout batch (TRL's `num_iterations`, μ); SFT takes one
/// optimizer step per batch. The learning-rate schedule therefore spans `steps × iterations` optimizer steps (GRPO)
/// or `steps` (SFT).
public struct TrainingSettings: Codable, Equatable, Sendable {
    public var method: TrainingMethod = .grpo
    /// Rollout batches (GRPO) or example batches (SFT).
    public var steps = 20
    /// Prompts per step (GRPO) or examples per step (SFT).
    public var promptsPerStep = 4
    /// G: completions sampled per prompt (GRPO; ≥ 2).
    public var groupSize = 4
    /// Most new tokens per sampled completion.
    public var maxNewTokens = 256
    /// Sampling temperature of rollouts; log-probabilities in the loss are taken at the same temperature (as TRL).
    public var temperature: Float = 1
    public var topP: Float = 1
    /// Peak learning rate of AdamW.
    public var learningRate: Float = 1e-3
    public var schedule: LearningRateSchedule.Shape = .constant
    /// Fraction of optimizer steps spent in linear warm-up.
    public var warmupRatio = 0.0
    public var weightDecay = 0.0
    public var adamBeta1 = 0.9
    public var adamBeta2 = 0.999
    /// Gradients are clipped to this global L2 norm (0 = no clipping).
    public var maxGradNorm: Float = 1
    public var loss = GRPOLossConfiguration()
    public var rewardScaling = RewardScaling.group
    /// μ: optimizer steps per rollout batch (importance ratios against the rollout policy from the second on).
    public var iterations = 1
    /// Completions cut at `maxNewTokens` get no loss (TRL's `mask_truncated_completions`).
    public var maskTruncatedCompletions = false
    /// When set, completions cut at `maxNewTokens` get this reward instead of the reward functions' value (e.g. 0:
    /// only an answer the model finished can earn anything). nil = score them like any other completion.
    public var truncatedReward: Double? = nil
    /// L_cache of DAPO's soft overlong punishment (`SoftOverlongPunishment`, L_max = `maxNewTokens`); 0 = off.
    public var overlongBuffer = 0
    /// Weight of the overlong punishment in the reward (reward = task reward + weight · R_length).
    public var overlongWeight = 1.0
    public var seed: UInt64 = 0
    /// A checkpoint every this many steps (and after the last); 0 = only after the last.
    public var checkpointEvery = 10
    public var keepCheckpoints = 3
    /// Stop after this many steps in a row with a non-finite loss or gradient.
    public var maxConsecutiveNonFinite = 5
    /// Most sequences decoded at once during rollouts.
    public var rolloutConcurrency = 64

    public init() {}

    /// Total optimizer steps (the schedule's length).
    public var optimizerSteps: Int { method == .grpo ? steps * iterations : steps }

    /// Checks the values, naming the first bad one.
    public func validate() throws {
        func check(_ ok: Bool, _ message: String) throws { if !ok { throw TrainingMathError(message) } }
        try check(steps >= 1, "steps must be ≥ 1, not \(steps)")
        try check(promptsPerStep >= 1, "prompts per step must be ≥ 1, not \(promptsPerStep)")
        if method == .grpo {
            try check(groupSize >= 2, "the group size (samples per prompt) must be ≥ 2 for GRPO, not \(groupSize): "
                + "advantages compare completions of the same prompt")
        }
        try check(maxNewTokens >= 1, "max new tokens must be ≥ 1, not \(maxNewTokens)")
        try check(temperature.isFinite && temperature > 0, "the rollout temperature must be > 0, not \(temperature)")
        try check(topP > 0 && topP <= 1, "top-p must be in (0, 1], not \(topP)")
        try check(learningRate.isFinite && learningRate >= 0, "the learning rate must be finite and ≥ 0")
        try check(warmupRatio >= 0 && warmupRatio < 1, "the warm-up ratio must be in [0, 1), not \(warmupRatio)")
        try check(maxGradNorm.isFinite && maxGradNorm >= 0, "max gradient norm must be ≥ 0 (0 = off)")
        try check(iterations >= 1, "iterations per rollout batch must be ≥ 1, not \(iterations)")
        try check(checkpointEvery >= 0, "checkpoint interval must be ≥ 0")
        try check(keepCheckpoints >= 1, "keep at least 1 checkpoint")
        try check(maxConsecutiveNonFinite >= 1, "max consecutive non-finite steps must be ≥ 1")
        try check(rolloutConcurrency >= 1, "rollout concurrency must be ≥ 1")
        try check(overlongBuffer >= 0 && overlongBuffer <= maxNewTokens,
                  "the overlong buffer must be in 0 ... \(maxNewTokens) (the max new tokens; 0 = off), not \(overlongBuffer)")
        try check(truncatedReward?.isFinite ?? true, "the reward of truncated completions must be finite")
        try check(overlongWeight.isFinite && overlongWeight >= 0, "the overlong weight must be finite and ≥ 0")
        var lossSettings = loss
        if lossSettings.aggregation == .drGRPO, lossSettings.maxCompletionLength == nil {
            lossSettings.maxCompletionLength = maxNewTokens
        }
        try lossSettings.validate()
    }

    /// The overlong punishment, or nil when `overlongBuffer` is 0.
    public var overlongPunishment: SoftOverlongPunishment? {
        overlongBuffer > 0 ? try? SoftOverlongPunishment(maxLength: maxNewTokens, buffer: overlongBuffer) : nil
    }

    /// The loss settings with Dr. GRPO's constant defaulting to `maxNewTokens`.
    public var resolvedLoss: GRPOLossConfiguration {
        var l = loss
        if l.aggregation == .drGRPO, l.maxCompletionLength == nil { l.maxCompletionLength = maxNewTokens }
        return l
    }
}
