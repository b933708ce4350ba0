import Numerics

/// Logits for a set of positions: `rows` rows of `vocabularySize` floats, row-major.
public struct Logits {
    public var values: [Float]
    public let rows: Int
    public let vocabularySize: Int

    public init(values: [Float], rows: Int, vocabularySize: Int) {
        precondition(values.count == rows * vocabularySize)
        self.values = values
        self.rows = rows
        self.vocabularySize = vocabularySize
    }

    public subscript(row: Int) -> ArraySlice<Float> {
        values[row * vocabularySize ..< (row + 1) * vocabularySize]
    }
}

/// A decoder-only language model that extends sequences held in a `KVCache`.
public protocol CausalLM: AnyObject {
    var vocabularySize: Int { get }
    /// Longest sequence (prompt + completion) the model supports.
    var contextLength: Int { get }

    /// A cache for `slots` independent sequences of up to `capacity` tokens each.
    func makeCache(slots: Int, capacity: Int) -> KVCache

    /// Appends `tokens[i]` to cache slot `slots[i]` for every i, as one batch (lengths may differ, and a slot
    /// may already hold earlier tokens), and returns logits: with `allPositions == false`, one row per sequence
    /// for its last appended token, in the order given; with `true`, one row per appended token, sequences
    /// concatenated in the order given.
    func forward(tokens: [[Int]], slots: [Int], cache: KVCache, allPositions: Bool) throws -> Logits
}

/// Keys and values of every layer for `slots` sequences of up to `capacity` positions.
///
/// Layout per layer: keys and values each `[slots, capacity, kvDim]` fp32, where kvDim = kvHeads × headDim;
/// a slot's first `lengths[slot]` positions are valid.
public final class KVCache {
    public let layers: Int
    public let slots: Int
    public let capacity: Int
    public let kvDim: Int
    /// Valid positions per slot.
    public var lengths: [Int]
    public let keys: [UnsafeMutablePointer<Float>]
    public let values: [UnsafeMutablePointer<Float>]

    public init(layers: Int, slots: Int, capacity: Int, kvDim: Int) {
        self.layers = layers
        self.slots = slots
        self.capacity = capacity
        self.kvDim = kvDim
        lengths = Array(repeating: 0, count: slots)
        let n = slots * capacity * kvDim
        keys = (0 ..< layers).map { _ in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
            HugePages.advise(p, count: max(n, 1))
            p.initialize(repeating: 0, count: max(n, 1))
            return p
        }
        values = (0 ..< layers).map { _ in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
            HugePages.advise(p, count: max(n, 1))
            p.initialize(repeating: 0, count: max(n, 1))
            return p
        }
    }

    deinit {
        keys.forEach { $0.deallocate() }
        values.forEach { $0.deallocate() }
    }

    /// Start of `slot`'s keys in `layer`.
    @inline(__always)
    public func keys(layer: Int, slot: Int) -> UnsafeMutablePointer<Float> {
        keys[layer] + slot * capacity * kvDim
    }

    @inline(__always)
    public func values(layer: Int, slot: Int) -> UnsafeMutablePointer<Float> {
        values[layer] + slot * capacity * kvDim
    }

    /// Forgets a slot's sequence.
    public func reset(slot: Int) { lengths[slot] = 0 }

    /// Makes `destination` hold a copy of `source`'s sequence (to share one prefilled prompt across samples).
    public func copy(slot source: Int, to destination: Int) {
        guard source != destination else { return }
        let n = lengths[source] * kvDim
        for l in 0 ..< layers {
            keys(layer: l, slot: destination).update(from: keys(layer: l, slot: source), count: n)
            values(layer: l, slot: destination).update(from: values(layer: l, slot: source), count: n)
        }
        lengths[destination] = lengths[source]
    }
}
