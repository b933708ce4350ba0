import Foundation

/// Accuracy over n scored completions with its Wilson score 95% interval.
///
/// Wilson interval (z = 1.959964, the 97.5% normal quantile), with p̂ = correct / n:
///   center = (p̂ + z²/(2n)) / (1 + z²/n),  half = z·√(p̂(1−p̂)/n + z²/(4n²)) / (1 + z²/n),
///   [lo, hi] = [center − half, center + half], clamped to [0, 1]. For n = 0: accuracy 0 and [0, 1].
/// Unlike the normal ("Wald") interval it stays inside [0, 1] and is not empty at 0% or 100%.
public struct AccuracySummary: Sendable, Equatable {
    public var correct: Int
    public var n: Int

    public init(correct: Int, n: Int) {
        self.correct = correct
        self.n = n
    }

    public var accuracy: Double { n == 0 ? 0 : Double(correct) / Double(n) }

    public var ci95: (lower: Double, upper: Double) { AccuracySummary.wilson(successes: correct, n: n) }

    public static let z95 = 1.959963984540054

    public static func wilson(successes: Int, n: Int, z: Double = z95) -> (lower: Double, upper: Double) {
        guard n > 0 else { return (0, 1) }
        let nn = Double(n), p = Double(successes) / nn, z2 = z * z
        let denominator = 1 + z2 / nn
        let center = (p + z2 / (2 * nn)) / denominator
        let half = z * (p * (1 - p) / nn + z2 / (4 * nn * nn)).squareRoot() / denominator
        // At 0 or n successes the bound is exactly 0 or 1; rounding would leave ~1e-17.
        let lower = successes == 0 ? 0 : max(0, center - half)
        let upper = successes == n ? 1 : min(1, center + half)
        return (lower, upper)
    }

    /// The exact two-sided McNemar test of paired before/after scores on the same items: of the n = `gained` + `lost`
    /// items whose score changed, under "no effect" each change is a fair coin, so
    /// p = min(1, 2 · P(X ≤ min(gained, lost))) with X ~ Binomial(n, 1/2). 1 when nothing changed.
    public static func mcNemarExactP(gained: Int, lost: Int) -> Double {
        let n = gained + lost, k = min(gained, lost)
        guard n > 0, k >= 0 else { return 1 }
        // Σ_{i ≤ k} C(n, i) / 2ⁿ, in log space so that large n cannot overflow.
        var tail = 0.0, logChoose = 0.0
        for i in 0 ... k {
            if i > 0 { logChoose += log(Double(n - i + 1)) - log(Double(i)) }
            tail += exp(logChoose - Double(n) * log(2.0))
        }
        return min(1, 2 * tail)
    }
}
