import Foundation

/// How per-token GRPO losses are reduced to one number (TRL `loss_type`).
public enum LossAggregation: String, Codable, CaseIterable, Sendable {
    /// TRL `"grpo"`: mean over each sequence's active tokens, then mean over the B sequences
    /// (a sequence with no active token counts as 0 in the batch mean).
    case grpo
    /// TRL `"dapo"` (TRL's default): sum over all active tokens of the batch / their number N.
    case dapo
    /// TRL `"dr_grpo"`: sum over all active tokens / (B · max_completion_length).
    case drGRPO = "dr_grpo"
}

/// Settings of the clipped GRPO surrogate (names after TRL's `GRPOConfig`).
public struct GRPOLossConfiguration: Codable, Equatable, Sendable {
    /// Lower clip: the ratio is clipped below at 1 − ε_low (TRL `epsilon`, default 0.2).
    public var epsilonLow: Float
    /// Upper clip: the ratio is clipped above at 1 + ε_high (TRL `epsilon_high`, defaults to ε_low; DAPO uses 0.28).
    public var epsilonHigh: Float
    /// KL coefficient β (TRL `beta`, default 0: no reference log-probabilities needed).
    public var beta: Float
    public var aggregation: LossAggregation
    /// TRL `delta` (two-sided clipping, INTELLECT-2): when set, the unclipped ratio is capped at this value
    /// (`ratio ← min(ratio, δ)`), which bounds the loss of negative-advantage tokens whose ratio explodes.
    /// Must be ≥ 1 + ε_high. nil: off.
    public var importanceRatioCap: Float?
    /// Longest completion the rollout may produce; the `.drGRPO` denominator (required for it).
    public var maxCompletionLength: Int?

    public init(epsilonLow: Float = 0.2, epsilonHigh: Float? = nil, beta: Float = 0, aggregation: LossAggregation = .dapo,
                importanceRatioCap: Float? = nil, maxCompletionLength: Int? = nil) {
        self.epsilonLow = epsilonLow
        self.epsilonHigh = epsilonHigh ?? epsilonLow
        self.beta = beta
        self.aggregation = aggregation
        self.importanceRatioCap = importanceRatioCap
        self.maxCompletionLength = maxCompletionLength
    }

    /// Throws naming the first bad setting.
    public func validate() throws {
        guard epsilonLow.isFinite, epsilonLow >= 0, epsilonLow < 1 else {
            throw TrainingMathError("GRPO loss: ε_low must be in [0, 1), not \(epsilonLow)")
        }
        guard epsilonHigh.isFinite, epsilonHigh >= 0 else {
            throw TrainingMathError("GRPO loss: ε_high must be finite and ≥ 0, not \(epsilonHigh)")
        }
        guard beta.isFinite, beta >= 0 else { throw TrainingMathError("GRPO loss: β must be finite and ≥ 0, not \(beta)") }
        if let cap = importanceRatioCap, !(cap.isFinite && cap >= 1 + epsilonHigh) {
            throw TrainingMathError("GRPO loss: the importance ratio cap δ must be finite and ≥ 1 + ε_high, not \(cap)")
        }
        if aggregation == .drGRPO {
            guard let l = maxCompletionLength, l >= 1 else {
                throw TrainingMathError("GRPO loss: dr_grpo aggregation needs the maximum completion length (≥ 1)")
            }
        }
    }
}

/// One completion's per-token inputs to the GRPO loss. All arrays have the completion's length C (one entry per
/// completion token t, i.e. the log-probability of generating token t given everything before it).
public struct GRPOSequence: Equatable, Sendable {
    /// `[C]` log π_θ(token_t) under the current parameters (with the rollout temperature).
    public var logps: [Float]
    /// `[C]` log π_old(token_t) from the parameters that generated the rollout; nil means "equal to `logps`" (the
    /// first optimisation pass over a rollout, ratio 1).
    public var oldLogps: [Float]?
    /// `[C]` log π_ref(token_t) of the base model (adapter off); required when β > 0, ignored otherwise.
    public var referenceLogps: [Float]?
    /// The completion's advantage (one per sequence, from `Advantages`).
    public var advantage: Float
    /// `[C]`: which tokens count in the loss. All false for a masked truncated completion.
    public var mask: [Bool]

    public init(logps: [Float], oldLogps: [Float]? = nil, referenceLogps: [Float]? = nil, advantage: Float,
                mask: [Bool]) {
        self.logps = logps
        self.oldLogps = oldLogps
        self.referenceLogps = referenceLogps
        self.advantage = advantage
        self.mask = mask
    }

    /// A mask of `length` ones, or all zeros when the completion was truncated (it hit the length limit before
    /// an end-of-sequence token) and `maskTruncated` is set (TRL `mask_truncated_completions`).
    public static func completionMask(length: Int, truncated: Bool, maskTruncated: Bool) -> [Bool] {
        [Bool](repeating: !(truncated && maskTruncated), count: length)
    }
}

/// One sequence's share of the loss: its scaled loss, the coefficients the backward consumes and its metric counts.
public struct GRPOSequenceTerms: Equatable, Sendable {
    /// This sequence's contribution to the batch loss (already multiplied by its aggregation scale).
    public var loss: Double
    /// `[C]`: `∂loss/∂logp_t` (zero where masked).
    public var coefficients: [Float]
    /// Active (masked-in) tokens.
    public var activeTokens: Int
    /// Active tokens with ratio < 1 − ε_low and A < 0 / ratio > 1 + ε_high and A > 0 / either.
    public var lowClipped: Int
    public var highClipped: Int
    public var regionClipped: Int
    /// Σ over active tokens of the k3 KL estimate (0 when β = 0).
    public var klSum: Double
}

/// The GRPO loss of a batch of B completions and what the training loop logs.
public struct GRPOLossResult: Equatable, Sendable {
    public var loss: Double
    /// `[B][C_i]`: `∂loss/∂logp_{i,t}`; the engine's backward of `Σ w·logp` with these weights gives `∂loss/∂θ`.
    public var coefficients: [[Float]]
    /// Active tokens of the batch (TRL `num_items_in_batch`).
    public var activeTokens: Int
    /// TRL's `clip_ratio/low_mean`, `clip_ratio/high_mean`, `clip_ratio/region_mean`: clipped active tokens /
    /// active tokens (0 when there are none).
    public var clipRatioLow: Double
    public var clipRatioHigh: Double
    public var clipRatioRegion: Double
    /// TRL's `kl`: mean k3 KL over active tokens; nil when β = 0 (TRL does not compute it then).
    public var meanKL: Double?
}

/// TRL's GRPO loss (`GRPOTrainer._compute_loss`, token-level importance sampling, loss types grpo / dapo / dr_grpo).
///
/// Per active token t of completion i, with A_i its advantage:
///
///     ρ      = exp(logp − logp_old)                         importance ratio (1 on the first pass)
///     ρ̄      = clamp(ρ, 1 − ε_low, 1 + ε_high)
///     ρ₁     = min(ρ, δ) if the cap δ is set, else ρ
///     ℓ_pol  = −min(ρ₁·A, ρ̄·A)
///     kl     = exp(ref − logp) − (ref − logp) − 1           (k3 estimator of KL(π_θ ‖ π_ref); only when β > 0)
///     ℓ      = ℓ_pol + β·kl
///
/// and `loss = Σ_i s_i · Σ_t m_{i,t}·ℓ_{i,t}` with the aggregation's scale s_i (`sequenceScales`):
/// `.grpo` s_i = 1/(B·max(n_i, 1)), `.dapo` s_i = 1/max(N, 1), `.drGRPO` s_i = 1/(B·L_max), where n_i is the active
/// token count of completion i and N = Σ n_i.
///
/// Derivative per token (logp_old, ref and A are constants):
///
///     ∂ℓ_pol/∂logp = −A·ρ   when the unclipped term is the active one:
///                          A > 0 and ρ ≤ 1 + ε_high (and ρ ≤ δ), or A < 0 and ρ ≥ 1 − ε_low (and ρ ≤ δ);
///                  = 0      otherwise (clipped, capped, or A = 0)
///     ∂kl/∂logp    = 1 − exp(ref − logp)
///     w_{i,t}      = s_i · m_{i,t} · (∂ℓ_pol/∂logp + β·∂kl/∂logp)
///
/// The loss is separable per sequence once the scales are known, so a backward that visits one sequence at a time
/// can call `terms(of:scale:configuration:)` per sequence and `combine` at the end; `compute` does all at once,
/// and `lossAndGradient(adapter:model:batch:temperature:configuration:)` (GRPOGradient.swift) runs a whole pass.
///
/// Checked against TRL 1.16 itself (Tests/TrainingTests/Fixtures/make_trl_fixture.py). Not implemented: TRL's
/// sequence-level importance sampling (GSPO), the cispo/sapo/vespo/luspo/bnpo losses, vLLM importance-sampling
/// correction, the entropy mask and bonus, and `use_bias_correction_kl`.
public enum GRPOLoss {
    /// Per-sequence scale s_i for sequences with `activeTokenCounts` n_i (see the type's doc).
    public static func sequenceScales(activeTokenCounts: [Int], configuration c: GRPOLossConfiguration) throws -> [Double] {
        try c.validate()
        guard !activeTokenCounts.isEmpty else { throw TrainingMathError("GRPO loss: empty batch") }
        let b = Double(activeTokenCounts.count)
        switch c.aggregation {
        case .grpo:
            return activeTokenCounts.map { 1 / (b * Double(max($0, 1))) }
        case .dapo:
            let n = Double(max(activeTokenCounts.reduce(0, +), 1))
            return activeTokenCounts.map { _ in 1 / n }
        case .drGRPO:
            let l = Double(c.maxCompletionLength!)
            return activeTokenCounts.map { _ in 1 / (b * l) }
        }
    }

    /// One sequence's loss share, coefficients and clip/KL counts, for aggregation scale `scale`.
    public static func terms(of s: GRPOSequence, scale: Double, configuration c: GRPOLossConfiguration) throws
        -> GRPOSequenceTerms {
        try c.validate()
        let n = s.logps.count
        guard s.mask.count == n else {
            throw TrainingMathError("GRPO loss: \(n) log-probabilities but a mask of \(s.mask.count)")
        }
        if let old = s.oldLogps, old.count != n {
            throw TrainingMathError("GRPO loss: \(n) log-probabilities but \(old.count) old ones")
        }
        if c.beta > 0 {
            guard let ref = s.referenceLogps else {
                throw TrainingMathError("GRPO loss: β > 0 needs the reference (base model) log-probabilities")
            }
            guard ref.count == n else {
                throw TrainingMathError("GRPO loss: \(n) log-probabilities but \(ref.count) reference ones")
            }
        }
        guard s.advantage.isFinite else { throw TrainingMathError("GRPO loss: the advantage is not finite") }
        guard scale.isFinite, scale >= 0 else { throw TrainingMathError("GRPO loss: bad aggregation scale \(scale)") }

        let a = Double(s.advantage), beta = Double(c.beta)
        let low = 1 - Double(c.epsilonLow), high = 1 + Double(c.epsilonHigh)
        let cap = c.importanceRatioCap.map(Double.init)
        var terms = GRPOSequenceTerms(loss: 0, coefficients: [Float](repeating: 0, count: n), activeTokens: 0,
                                      lowClipped: 0, highClipped: 0, regionClipped: 0, klSum: 0)
        var sum = 0.0
        for t in 0 ..< n where s.mask[t] {
            let logp = Double(s.logps[t])
            let old = s.oldLogps.map { Double($0[t]) } ?? logp
            guard logp.isFinite, old.isFinite else {
                throw TrainingMathError("GRPO loss: log-probability of token \(t) is not finite")
            }
            let ratio = exp(logp - old)
            let clipped = min(max(ratio, low), high)
            let capped = cap.map { min(ratio, $0) } ?? ratio
            let unclippedTerm = capped * a, clippedTerm = clipped * a
            // −min(ρ₁A, ρ̄A) = −A·min(ρ₁, ρ̄) for A > 0 and −A·max(ρ₁, ρ̄) for A < 0: the gradient flows through the
            // unclipped, uncapped ρ exactly when it is the active term.
            var tokenLoss = -min(unclippedTerm, clippedTerm)
            let uncapped = cap.map { ratio <= $0 } ?? true
            let unclippedActive = (a > 0 && ratio <= high) || (a < 0 && ratio >= low)
            var derivative = uncapped && unclippedActive ? -a * ratio : 0
            if beta > 0 {
                let ref = Double(s.referenceLogps![t])
                guard ref.isFinite else {
                    throw TrainingMathError("GRPO loss: reference log-probability of token \(t) is not finite")
                }
                let kl = exp(ref - logp) - (ref - logp) - 1
                tokenLoss += beta * kl
                derivative += beta * (1 - exp(ref - logp))
                terms.klSum += kl
            }
            sum += tokenLoss
            terms.coefficients[t] = Float(scale * derivative)
            terms.activeTokens += 1
            let isLow = ratio < low && a < 0, isHigh = ratio > high && a > 0
            if isLow { terms.lowClipped += 1 }
            if isHigh { terms.highClipped += 1 }
            if isLow || isHigh { terms.regionClipped += 1 }
        }
        terms.loss = scale * sum
        return terms
    }

    /// Sums the sequences' terms into the batch result (`beta` decides whether the mean KL is reported).
    public static func combine(_ terms: [GRPOSequenceTerms], beta: Float) -> GRPOLossResult {
        let active = terms.reduce(0) { $0 + $1.activeTokens }
        func ratio(_ count: Int) -> Double { active == 0 ? 0 : Double(count) / Double(active) }
        return GRPOLossResult(loss: terms.reduce(0) { $0 + $1.loss },
                              coefficients: terms.map(\.coefficients),
                              activeTokens: active,
                              clipRatioLow: ratio(terms.reduce(0) { $0 + $1.lowClipped }),
                              clipRatioHigh: ratio(terms.reduce(0) { $0 + $1.highClipped }),
                              clipRatioRegion: ratio(terms.reduce(0) { $0 + $1.regionClipped }),
                              meanKL: beta > 0 ? (active == 0 ? 0 : terms.reduce(0) { $0 + $1.klSum } / Double(active)) : nil)
    }

    /// The loss of a whole batch of completions (see the type's doc).
    public static func compute(_ batch: [GRPOSequence], configuration c: GRPOLossConfiguration) throws -> GRPOLossResult {
        let scales = try sequenceScales(activeTokenCounts: batch.map { $0.mask.filter { $0 }.count }, configuration: c)
        let terms = try zip(batch, scales).enumerated().map { i, pair in
            do {
                return try GRPOLoss.terms(of: pair.0, scale: pair.1, configuration: c)
            } catch let error as TrainingMathError {
                throw TrainingMathError("\(error.description) (completion \(i))")
            }
        }
        return combine(terms, beta: c.beta)
    }
}
