/// Gradient clipping by global L2 norm, like `torch.nn.utils.clip_grad_norm_`:
///
///     n = ‖g‖₂ (over all entries, accumulated in Double)
///     g ← g · min(1, maxNorm / (n + 1e-6))
///
/// Returns n, the norm before clipping. When n is not finite the gradient is left unchanged (the caller should
/// skip the step).
public enum GradientClipping {
    public static func clip(_ gradient: inout [Float], maxNorm: Float) throws -> Double {
        guard maxNorm.isFinite, maxNorm > 0 else {
            throw TrainingMathError("gradient clipping: the maximum norm must be finite and > 0, not \(maxNorm)")
        }
        let norm = l2Norm(gradient)
        guard norm.isFinite else { return norm }
        let coefficient = min(1, Double(maxNorm) / (norm + 1e-6))
        if coefficient < 1 {
            for i in gradient.indices { gradient[i] = Float(Double(gradient[i]) * coefficient) }
        }
        return norm
    }

    /// ‖g‖₂ in Double.
    public static func l2Norm(_ gradient: [Float]) -> Double {
        gradient.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
    }
}
