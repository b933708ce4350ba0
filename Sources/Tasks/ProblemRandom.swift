import Numerics

/// The draws the problem generator makes, all from one xoshiro256** stream (`Xoshiro256StarStar.next(below:)`,
/// which is portable), so a seed gives the same problems on every machine.
struct ProblemRandom {
    var generator: Xoshiro256StarStar

    init(seed: UInt64, stream: UInt64) {
        generator = Xoshiro256StarStar(seed: seed, stream: stream)
    }

    /// Uniform in `range` (an empty-looking range collapses to its lower bound).
    mutating func int(_ range: ClosedRange<Int>) -> Int {
        let width = UInt64(range.upperBound - range.lowerBound) + 1
        return range.lowerBound + Int(generator.next(below: width))
    }

    /// Uniform in lower...max(lower, upper).
    mutating func int(_ lower: Int, _ upper: Int) -> Int {
        int(lower ... max(lower, upper))
    }

    mutating func pick<T>(_ items: [T]) -> T {
        items[Int(generator.next(below: UInt64(items.count)))]
    }

    mutating func chance(_ numerator: Int, in denominator: Int) -> Bool {
        generator.next(below: UInt64(denominator)) < UInt64(numerator)
    }
}
