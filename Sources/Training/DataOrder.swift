import Numerics

/// The order in which training visits a dataset of n examples: epoch e is a Fisher–Yates permutation of 0..<n
/// drawn from `Xoshiro256StarStar(seed: seed, stream: e)`, and the run reads the epochs back to back. Position
/// `cursor` (examples consumed so far) therefore fixes everything that follows, so a checkpoint only needs the
/// cursor to resume the same sequence on any machine.
public struct DataOrder: Sendable {
    public let count: Int
    public let seed: UInt64
    private var epoch = -1
    private var permutation: [Int] = []

    public init(count: Int, seed: UInt64) throws {
        guard count >= 1 else { throw TrainingMathError("the training dataset has no examples") }
        self.count = count
        self.seed = seed
    }

    /// The example index at `cursor` (0-based over the whole run).
    public mutating func index(at cursor: Int) -> Int {
        let e = cursor / count
        if e != epoch {
            permutation = DataOrder.permutation(count: count, seed: seed, epoch: e)
            epoch = e
        }
        return permutation[cursor % count]
    }

    /// `length` indices starting at `cursor`.
    public mutating func indices(from cursor: Int, length: Int) -> [Int] {
        (cursor ..< cursor + length).map { index(at: $0) }
    }

    static func permutation(count: Int, seed: UInt64, epoch: Int) -> [Int] {
        var rng = Xoshiro256StarStar(seed: seed, stream: UInt64(epoch))
        var p = Array(0 ..< count)
        var i = count - 1
        while i > 0 {
            let j = Int(rng.next(below: UInt64(i + 1)))
            p.swapAt(i, j)
            i -= 1
        }
        return p
    }
}
