import Numerics

/// A fixed, seeded subset of a dataset, chosen without looking at any model: `spec:subset=N,seed=S` after any
/// dataset spec of `Dataset.load` (e.g. `gsm8k-test:subset=400,seed=2026`).
///
/// Selection: a partial Fisher–Yates shuffle of the indices `0 ..< count` driven by `Xoshiro256StarStar(seed: S,
/// stream: 0).next(below:)` (portable): for `i` in `0 ..< N`, swap index `i` with index `i + next(below: count − i)`;
/// the first N indices are the subset, kept in the dataset's own order (ascending index). The same N and S give the
/// same items on every machine, and a larger N with the same S is not guaranteed to contain a smaller one.
public struct DatasetSubset: Equatable, Sendable {
    public var size: Int
    public var seed: UInt64

    public init(size: Int, seed: UInt64) {
        self.size = size
        self.seed = seed
    }

    /// Splits `base:subset=N,seed=S` (subset first, both required) into the base spec and the subset;
    /// a spec without `:subset=` is returned unchanged with nil.
    public static func split(_ spec: String) throws -> (base: String, subset: DatasetSubset?) {
        guard let marker = spec.range(of: ":subset=") else { return (spec, nil) }
        let base = String(spec[..<marker.lowerBound])
        let options = spec[spec.index(after: marker.lowerBound)...]
        var size: Int?, seed: UInt64?
        for item in options.split(separator: ",", omittingEmptySubsequences: false) {
            let kv = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard kv.count == 2 else { throw TaskError("\(spec): \"\(item)\" is not key=value (keys: subset, seed)") }
            switch kv[0] {
            case "subset":
                guard let n = Int(kv[1]), n >= 1 else { throw TaskError("\(spec): subset must be a positive integer, not \(kv[1])") }
                size = n
            case "seed":
                guard let s = UInt64(kv[1]) else { throw TaskError("\(spec): seed must be a non-negative integer, not \(kv[1])") }
                seed = s
            default:
                throw TaskError("\(spec): unknown subset key \"\(kv[0])\" (keys: subset, seed)")
            }
        }
        guard let size, let seed else { throw TaskError("\(spec): a subset needs both subset=N and seed=S") }
        guard !base.isEmpty else { throw TaskError("\(spec): no dataset before \":subset=\"") }
        return (base, DatasetSubset(size: size, seed: seed))
    }

    /// The chosen indices of a dataset of `count` items, ascending. Throws when `size > count`.
    public func indices(count: Int) throws -> [Int] {
        guard size <= count else {
            throw TaskError("subset of \(size) items asked from a dataset of \(count)")
        }
        var order = Array(0 ..< count)
        var random = Xoshiro256StarStar(seed: seed, stream: 0)
        for i in 0 ..< size {
            let j = i + Int(random.next(below: UInt64(count - i)))
            order.swapAt(i, j)
        }
        return order.prefix(size).sorted()
    }

    /// The subset of `dataset`, named `<name>:subset=N,seed=S`.
    public func apply(to dataset: Dataset) throws -> Dataset {
        let chosen = try indices(count: dataset.count)
        return Dataset(name: "\(dataset.name):subset=\(size),seed=\(seed)", examples: chosen.map { dataset.examples[$0] })
    }
}
