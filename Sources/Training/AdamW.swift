import Foundation

/// AdamW (decoupled weight decay), step for step like `torch.optim.AdamW` (non-amsgrad, non-fused), with fp32 state.
///
/// For parameters θ, gradient g (`[n]` each), learning rate η, betas β₁, β₂, ε and weight decay λ, at step t
/// (1-based, counted in the state):
///
///     θ ← θ·(1 − η·λ)
///     m ← β₁·m + (1 − β₁)·g
///     v ← β₂·v + (1 − β₂)·g²
///     θ ← θ − (η / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
///
/// The state (`m`, `v`, `step`) is `Codable` for checkpoints; the hyper-parameters are given to `init` (and η to
/// every `step`, so a schedule can drive it).
public struct AdamW: Codable, Equatable, Sendable {
    /// Hyper-parameters in Double, as torch holds them (Python floats), so `1 − β` rounds like torch's.
    public var beta1: Double
    public var beta2: Double
    public var epsilon: Double
    public var weightDecay: Double
    /// `[n]` first and second moment estimates.
    public private(set) var m: [Float]
    public private(set) var v: [Float]
    /// Steps taken so far.
    public private(set) var step: Int

    /// Fresh state for `parameterCount` parameters. Defaults are torch's except weight decay, which is 0 as in
    /// transformers' `TrainingArguments` (torch's own default is 0.01).
    public init(parameterCount: Int, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8,
                weightDecay: Double = 0) throws {
        guard parameterCount >= 0 else { throw TrainingMathError("AdamW: negative parameter count") }
        guard beta1 >= 0, beta1 < 1, beta2 >= 0, beta2 < 1 else {
            throw TrainingMathError("AdamW: betas must be in [0, 1), not (\(beta1), \(beta2))")
        }
        guard epsilon.isFinite, epsilon >= 0 else { throw TrainingMathError("AdamW: ε must be finite and ≥ 0") }
        guard weightDecay.isFinite, weightDecay >= 0 else {
            throw TrainingMathError("AdamW: weight decay must be finite and ≥ 0")
        }
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        m = [Float](repeating: 0, count: parameterCount)
        v = [Float](repeating: 0, count: parameterCount)
        step = 0
    }

    /// Applies one update to `parameters` with `gradient` at learning rate `learningRate`. Throws (changing
    /// nothing) on a count mismatch or a non-finite gradient or learning rate.
    public mutating func update(_ parameters: inout [Float], gradient: [Float], learningRate: Float) throws {
        guard m.count == v.count, step >= 0 else {
            throw TrainingMathError("AdamW: inconsistent state (\(m.count) first moments, \(v.count) second moments, "
                + "step \(step))")
        }
        guard parameters.count == m.count, gradient.count == m.count else {
            throw TrainingMathError("AdamW: state for \(m.count) parameters, given \(parameters.count) parameters and "
                + "\(gradient.count) gradients")
        }
        guard learningRate.isFinite, learningRate >= 0 else {
            throw TrainingMathError("AdamW: the learning rate must be finite and ≥ 0, not \(learningRate)")
        }
        if let i = gradient.firstIndex(where: { !$0.isFinite }) {
            throw TrainingMathError("AdamW: gradient \(i) is not finite (\(gradient[i]))")
        }
        step += 1
        // Scalars in Double, then rounded once to Float, as torch computes them in Python floats.
        let b1 = beta1, b2 = beta2, lr = Double(learningRate), eps = Float(epsilon)
        let decay = Float(1 - lr * weightDecay)
        let keep1 = Float(b1), take1 = Float(1 - b1), keep2 = Float(b2), take2 = Float(1 - b2)
        let stepSize = Float(lr / (1 - pow(b1, Double(step))))
        let biasCorrection2Root = Float((1 - pow(b2, Double(step))).squareRoot())
        for i in parameters.indices {
            let g = gradient[i]
            parameters[i] *= decay
            m[i] = keep1 * m[i] + take1 * g
            v[i] = keep2 * v[i] + take2 * g * g
            let denominator = v[i].squareRoot() / biasCorrection2Root + eps
            parameters[i] -= stepSize * m[i] / denominator
        }
    }
}
