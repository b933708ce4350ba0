import Adapters
import Transformer

/// A rollout batch ready for GRPO optimisation passes: B sequences of prompt + completion token ids.
public struct GRPOBatch: Sendable {
    /// `[B][count_i]`: prompt then completion tokens.
    public var tokens: [[Int]]
    /// `[B]`: index of the first completion token (the prompt length), ≥ 1; completion i has
    /// `C_i = count_i − completionStart[i]` tokens.
    public var completionStart: [Int]
    /// `[B]`: one advantage per completion (`Advantages.values`).
    public var advantages: [Float]
    /// `[B][C_i]`: loss mask per completion token (see `GRPOSequence.completionMask`).
    public var masks: [[Bool]]
    /// `[B][C_i]` log-probabilities of the rollout policy for passes after the first (`GRPOGradient.logps` of the
    /// first pass); nil on the first pass (ratio 1).
    public var oldLogps: [[Float]?]?
    /// `[B][C_i]` log-probabilities under the base model (adapter off, `TransformerModel.tokenLogProbabilities`
    /// with the same temperature and `completionStart`); required when β > 0.
    public var referenceLogps: [[Float]]?

    public init(tokens: [[Int]], completionStart: [Int], advantages: [Float], masks: [[Bool]],
                oldLogps: [[Float]?]? = nil, referenceLogps: [[Float]]? = nil) {
        self.tokens = tokens
        self.completionStart = completionStart
        self.advantages = advantages
        self.masks = masks
        self.oldLogps = oldLogps
        self.referenceLogps = referenceLogps
    }
}

/// What one GRPO pass produced.
public struct GRPOGradient: Sendable {
    /// Loss, coefficients and metrics, exactly as `GRPOLoss.compute` on the whole batch.
    public var result: GRPOLossResult
    /// `∂loss/∂(adapter parameters)`, laid out like `Adapter.parameters`.
    public var gradient: [Float]
    /// `[B]`: the current completion log-probabilities `[C_i]` (the old ones of later passes), or nil for a
    /// completion whose coefficients are zero whatever its log-probabilities (advantage 0 with β = 0, or fully
    /// masked): it is left out of the forward and backward (it still counts in the loss's normalisation).
    public var logps: [[Float]?]
}

extension GRPOLoss {
    /// One optimisation pass: a forward of every completion that can have a gradient, the GRPO coefficients from
    /// its current log-probabilities (temperature T), and the backward into the adapter:
    /// `gradient = Σ_i Σ_t w_{i,t}·∂logp_{i,t}/∂θ` with `w = ∂loss/∂logp` (see `GRPOLoss`), so it is ∂loss/∂θ.
    /// The completions of one prompt share the prompt's forward and backward (exact, see
    /// `TransformerModel+SharedPrefixBackward.swift`).
    public static func lossAndGradient(adapter: Adapter, model: TransformerModel, batch: GRPOBatch, temperature: Float,
                                       configuration c: GRPOLossConfiguration, vocabularyChunk: Int = 128) throws
        -> GRPOGradient {
        let b = batch.tokens.count
        guard batch.completionStart.count == b, batch.advantages.count == b, batch.masks.count == b else {
            throw TrainingMathError("GRPO batch: \(b) sequences but \(batch.completionStart.count) completion starts, "
                + "\(batch.advantages.count) advantages and \(batch.masks.count) masks")
        }
        for i in 0 ..< b {
            let s = batch.completionStart[i], n = batch.tokens[i].count
            guard s >= 1, s <= n else {
                throw TrainingMathError("GRPO batch: completion start \(s) of sequence \(i) is outside 1 ... \(n)")
            }
            guard batch.masks[i].count == n - s else {
                throw TrainingMathError("GRPO batch: sequence \(i) has \(n - s) completion tokens but a mask of "
                    + "\(batch.masks[i].count)")
            }
        }
        if let old = batch.oldLogps, old.count != b {
            throw TrainingMathError("GRPO batch: \(b) sequences but \(old.count) old log-probability lists")
        }
        if c.beta > 0 {
            guard let ref = batch.referenceLogps, ref.count == b else {
                throw TrainingMathError("GRPO batch: β > 0 needs reference log-probabilities for all \(b) sequences")
            }
        }
        let scales = try sequenceScales(activeTokenCounts: batch.masks.map { $0.filter { $0 }.count }, configuration: c)
        let needed = (0 ..< b).filter { i in
            batch.masks[i].contains(true) && (batch.advantages[i] != 0 || c.beta > 0)
        }
        var terms = (0 ..< b).map { i in
            let n = batch.masks[i].count
            return GRPOSequenceTerms(loss: 0, coefficients: [Float](repeating: 0, count: n),
                                     activeTokens: batch.masks[i].filter { $0 }.count, lowClipped: 0, highClipped: 0,
                                     regionClipped: 0, klSum: 0)
        }
        var logps = [[Float]?](repeating: nil, count: b)
        var gradient = [Float](repeating: 0, count: adapter.parameters.count)
        if !needed.isEmpty {
            gradient = try adapter.lossAndGradient(model: model, tokens: needed.map { batch.tokens[$0] },
                                                   completionStart: needed.map { batch.completionStart[$0] },
                                                   temperature: temperature, vocabularyChunk: vocabularyChunk,
                                                   sharingPrompts: true) { k, current in
                let i = needed[k]
                let old: [Float]?
                if let given = batch.oldLogps?[i] {
                    old = given
                } else if batch.oldLogps != nil {
                    throw TrainingMathError("GRPO batch: sequence \(i) has no old log-probabilities")
                } else {
                    old = nil
                }
                let sequence = GRPOSequence(logps: current, oldLogps: old, referenceLogps: batch.referenceLogps?[i],
                                            advantage: batch.advantages[i], mask: batch.masks[i])
                do {
                    terms[i] = try GRPOLoss.terms(of: sequence, scale: scales[i], configuration: c)
                } catch let error as TrainingMathError {
                    throw TrainingMathError("\(error.description) (completion \(i))")
                }
                logps[i] = current
                return terms[i].coefficients
            }.gradient
        }
        return GRPOGradient(result: combine(terms, beta: c.beta), gradient: gradient, logps: logps)
    }
}

extension SFTLoss {
    /// The SFT loss of a batch and its gradient: `loss = −(1/N)·Σ_{completion tokens} log p` (T = 1), through
    /// the backward with weights `−1/N` on completion tokens (mask `masks[i]`, default all) and 0 on the prompt.
    public static func lossAndGradient(adapter: Adapter, model: TransformerModel, tokens: [[Int]], completionStart: [Int],
                                       masks: [[Bool]]? = nil, vocabularyChunk: Int = 128) throws
        -> (loss: Double, gradient: [Float], tokens: Int) {
        guard completionStart.count == tokens.count else {
            throw TrainingMathError("SFT batch: \(tokens.count) sequences but \(completionStart.count) completion starts")
        }
        for (i, (s, seq)) in zip(completionStart, tokens).enumerated() where s < 1 || s > seq.count {
            throw TrainingMathError("SFT batch: completion start \(s) of sequence \(i) is outside 1 ... \(seq.count)")
        }
        let masks = masks ?? zip(tokens, completionStart).map { [Bool](repeating: true, count: $0.count - $1) }
        guard masks.count == tokens.count else {
            throw TrainingMathError("SFT batch: \(tokens.count) sequences but \(masks.count) masks")
        }
        for (i, m) in masks.enumerated() where m.count != tokens[i].count - completionStart[i] {
            throw TrainingMathError("SFT batch: sequence \(i) has \(tokens[i].count - completionStart[i]) completion "
                + "tokens but a mask of \(m.count)")
        }
        let coefficients = try SFTLoss.coefficients(masks: masks)
        let weights = coefficients.enumerated().map { i, w in [Float](repeating: 0, count: completionStart[i] - 1) + w }
        let (loss, gradient) = try adapter.lossAndGradient(model: model, tokens: tokens, weights: weights,
                                                           vocabularyChunk: vocabularyChunk)
        return (loss, gradient, masks.reduce(0) { $0 + $1.filter { $0 }.count })
    }
}
