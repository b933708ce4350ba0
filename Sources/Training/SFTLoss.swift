/// Supervised fine-tuning loss: mean negative log-likelihood of the completion tokens of a batch (prompt tokens
/// are masked out), like TRL's SFTTrainer with `completion_only_loss`.
///
/// For completion i with per-token log-probabilities `logp_{i,t}` and mask `m_{i,t}` (true on completion tokens),
/// N = Σ m_{i,t}:
///
///     loss    = −(1/N) · Σ_{i,t} m_{i,t} · logp_{i,t}
///     w_{i,t} = ∂loss/∂logp_{i,t} = −m_{i,t} / N
///
/// The coefficients do not depend on the log-probabilities, so they can be fixed before the forward pass.
public enum SFTLoss {
    /// `[B][C_i]` coefficients `−m/N` for the masks (N = active tokens of the whole batch). Throws when no token is
    /// active.
    public static func coefficients(masks: [[Bool]]) throws -> [[Float]] {
        let n = masks.reduce(0) { $0 + $1.filter { $0 }.count }
        guard n > 0 else { throw TrainingMathError("SFT loss: the batch has no completion tokens") }
        let w = -1 / Float(n)
        return masks.map { $0.map { $0 ? w : 0 } }
    }

    /// The loss value `−(1/N)·Σ m·logp` (Double accumulation). Throws on shape mismatch, no active token or a
    /// non-finite active log-probability.
    public static func loss(logps: [[Float]], masks: [[Bool]]) throws -> Double {
        guard logps.count == masks.count else {
            throw TrainingMathError("SFT loss: \(logps.count) sequences of log-probabilities but \(masks.count) masks")
        }
        var sum = 0.0, n = 0
        for (i, (l, m)) in zip(logps, masks).enumerated() {
            guard l.count == m.count else {
                throw TrainingMathError("SFT loss: sequence \(i) has \(l.count) log-probabilities but a mask of \(m.count)")
            }
            for t in l.indices where m[t] {
                guard l[t].isFinite else { throw TrainingMathError("SFT loss: log-probability \(t) of sequence \(i) is not finite") }
                sum += Double(l[t])
                n += 1
            }
        }
        guard n > 0 else { throw TrainingMathError("SFT loss: the batch has no completion tokens") }
        return -sum / Double(n)
    }
}
