/// DAPO's soft overlong punishment (Yu et al. 2025, Eq. 13; TRL's `get_soft_overlong_punishment`): a reward term
/// that punishes completions running into the length limit without rewarding short ones.
///
/// With `L_max` the most new tokens and `L_cache` the buffer, for a completion of `|y|` tokens:
///
///     R_length(y) = 0                                  if |y| ≤ L_max − L_cache
///                 = ((L_max − L_cache) − |y|) / L_cache  if L_max − L_cache < |y| ≤ L_max
///                 = −1                                 if |y| > L_max
///
/// so a completion cut at the limit (|y| = L_max) gets −1 and the penalty rises linearly from 0 over the last
/// `L_cache` tokens. The trainer adds `weight · R_length` to the task reward.
public struct SoftOverlongPunishment: Equatable, Sendable {
    /// L_max: the most new tokens of a completion.
    public var maxLength: Int
    /// L_cache: the length of the linear zone before L_max (1 ... maxLength).
    public var buffer: Int

    public init(maxLength: Int, buffer: Int) throws {
        guard maxLength >= 1 else { throw TrainingMathError("overlong punishment: the length limit must be ≥ 1, not \(maxLength)") }
        guard buffer >= 1, buffer <= maxLength else {
            throw TrainingMathError("overlong punishment: the buffer must be in 1 ... \(maxLength) (the max new tokens), "
                + "not \(buffer)")
        }
        self.maxLength = maxLength
        self.buffer = buffer
    }

    /// R_length for a completion of `length` tokens, in [−1, 0].
    public func penalty(length: Int) -> Double {
        let free = maxLength - buffer
        if length <= free { return 0 }
        if length <= maxLength { return Double(free - length) / Double(buffer) }
        return -1
    }
}
