/// Skips training steps whose loss or gradient is NaN or infinite, and stops the run when that keeps happening.
///
///     var nonFinite = NonFiniteGuard(maxConsecutive: 5)
///     if try nonFinite.check(step: step, loss: loss, gradient: grad) { optimizer.step(...) } else { /* skipped */ }
///
/// `check` returns true for a finite step (and resets the run of failures), false for a step to skip, and
/// throws on the `maxConsecutive`-th non-finite step in a row. `skipped` counts every skipped step (store it
/// in checkpoints and metrics).
public struct NonFiniteGuard: Sendable {
    public let maxConsecutive: Int
    public private(set) var skipped: Int
    public private(set) var consecutive = 0

    public init(maxConsecutive: Int = 5, skipped: Int = 0) {
        self.maxConsecutive = max(1, maxConsecutive)
        self.skipped = skipped
    }

    /// Checks one step's loss and gradient values.
    public mutating func check(step: Int, loss: Double, gradient: [Float] = []) throws -> Bool {
        let lossOK = loss.isFinite
        let badGradient = gradient.firstIndex { !$0.isFinite }
        if lossOK, badGradient == nil {
            consecutive = 0
            return true
        }
        skipped += 1
        consecutive += 1
        if consecutive >= maxConsecutive {
            let what = !lossOK ? "the loss is \(loss)" : "gradient element \(badGradient!) is \(gradient[badGradient!])"
            throw NonFiniteError("step \(step): \(what); \(consecutive) steps in a row had a non-finite loss or gradient "
                + "(\(skipped) skipped in all), stopping. Try a lower learning rate or check the data.")
        }
        return false
    }
}

/// Training stopped after repeated non-finite steps.
public struct NonFiniteError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ message: String) { description = message }
}
