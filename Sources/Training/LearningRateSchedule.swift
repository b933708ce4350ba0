import Foundation

/// A learning-rate schedule with linear warm-up, like transformers' `get_constant_schedule_with_warmup` and
/// `get_cosine_schedule_with_warmup` (one cosine half-cycle, `num_cycles = 0.5`).
///
/// For optimizer step s = 0, 1, … (0-based: the first update uses s = 0, as torch's LambdaLR does), peak rate η,
/// W warm-up steps and S total steps:
///
///     s < W:          η · s / max(1, W)                         (so the first step of a warm-up has rate 0)
///     constant:       η
///     cosine:         η · max(0, ½·(1 + cos(π · (s − W) / max(1, S − W))))
public struct LearningRateSchedule: Codable, Equatable, Sendable {
    public enum Shape: String, Codable, CaseIterable, Sendable { case constant, cosine }

    public var shape: Shape
    public var peak: Float
    public var warmupSteps: Int
    public var totalSteps: Int

    /// `warmupSteps` W ≥ 0 and `totalSteps` S ≥ 1.
    public init(shape: Shape, peak: Float, warmupSteps: Int, totalSteps: Int) throws {
        guard peak.isFinite, peak >= 0 else { throw TrainingMathError("learning rate must be finite and ≥ 0, not \(peak)") }
        guard totalSteps >= 1 else { throw TrainingMathError("schedule: total steps must be ≥ 1, not \(totalSteps)") }
        guard warmupSteps >= 0 else { throw TrainingMathError("schedule: warm-up steps must be ≥ 0, not \(warmupSteps)") }
        self.shape = shape
        self.peak = peak
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
    }

    /// Warm-up given as a ratio of the total steps: W = ⌈S · ratio⌉ (transformers' `get_warmup_steps`).
    public init(shape: Shape, peak: Float, warmupRatio: Double, totalSteps: Int) throws {
        guard warmupRatio.isFinite, warmupRatio >= 0, warmupRatio <= 1 else {
            throw TrainingMathError("schedule: warm-up ratio must be in [0, 1], not \(warmupRatio)")
        }
        try self.init(shape: shape, peak: peak, warmupSteps: Int((Double(totalSteps) * warmupRatio).rounded(.up)),
                      totalSteps: totalSteps)
    }

    /// The learning rate of optimizer step `step` (0-based).
    public func learningRate(step: Int) -> Float {
        let s = Double(max(step, 0)), w = Double(warmupSteps)
        let factor: Double
        if s < w {
            factor = s / max(1, w)
        } else {
            switch shape {
            case .constant:
                factor = 1
            case .cosine:
                let progress = (s - w) / max(1, Double(totalSteps) - w)
                factor = max(0, 0.5 * (1 + cos(Double.pi * 2 * 0.5 * progress)))
            }
        }
        return Float(Double(peak) * factor)
    }
}
