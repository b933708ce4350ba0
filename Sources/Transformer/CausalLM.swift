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
/// Layout per layer: keys and values each `[slots, kvHeads, capacity, headDim]` fp32, so that one kv head's cached
/// rows of one sequence are contiguous (`headDim` floats apart): decode-time attention streams them (with rows
/// interleaved by head, `[capacity, kvHeads·headDim]`, it ran ~1.6× slower, reading a third of each span).
/// A slot's first `lengths[slot]` positions are valid.
public final class KVCache {
    public let layers: Int
    public let slots: Int
    public let capacity: Int
    public let kvHeads: Int
    public let headDim: Int
    /// Valid positions per slot.
    public var lengths: [Int]
    private let keyStorage: [UnsafeMutablePointer<Float>]
    private let valueStorage: [UnsafeMutablePointer<Float>]

    /// Width of one position's keys (or values) across heads, kvHeads × headDim.
    public var kvDim: Int { kvHeads * headDim }
    /// Floats between the starts of two consecutive kv heads of one slot (`capacity × headDim`).
    public var headStride: Int { capacity * headDim }

    public init(layers: Int, slots: Int, capacity: Int, kvHeads: Int, headDim: Int) {
        self.layers = layers
        self.slots = slots
        self.capacity = capacity
        self.kvHeads = kvHeads
        self.headDim = headDim
        lengths = Array(repeating: 0, count: slots)
        let n = max(slots * kvHeads * capacity * headDim, 1)
        func allocate() -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: n)
            HugePages.advise(p, count: n)
            p.initialize(repeating: 0, count: n)
            return p
        }
        keyStorage = (0 ..< layers).map { _ in allocate() }
        valueStorage = (0 ..< layers).map { _ in allocate() }
    }

    deinit {
        keyStorage.forEach { $0.deallocate() }
        valueStorage.forEach { $0.deallocate() }
    }

    /// `slot`'s cached keys of kv head `head` in `layer`: `[capacity, headDim]`, rows `headDim` apart; the next
    /// head's start `headStride` floats further.
    @inline(__always)
    public func keys(layer: Int, slot: Int, head: Int = 0) -> UnsafeMutablePointer<Float> {
        keyStorage[layer] + (slot * kvHeads + head) * capacity * headDim
    }

    /// `slot`'s cached values of kv head `head` in `layer` (the layout of `keys`).
    @inline(__always)
    public func values(layer: Int, slot: Int, head: Int = 0) -> UnsafeMutablePointer<Float> {
        valueStorage[layer] + (slot * kvHeads + head) * capacity * headDim
    }

    /// Writes one position's keys and values, `key` and `value` `[kvHeads·headDim]` (head after head), at `position`
    /// of `slot` in `layer`.
    @inline(__always)
    public func store(layer: Int, slot: Int, position: Int, key: UnsafePointer<Float>, value: UnsafePointer<Float>) {
        for g in 0 ..< kvHeads {
            let offset = position * headDim
            (keys(layer: layer, slot: slot, head: g) + offset).update(from: key + g * headDim, count: headDim)
            (values(layer: layer, slot: slot, head: g) + offset).update(from: value + g * headDim, count: headDim)
        }
    }

    /// Forgets a slot's sequence.
    public func reset(slot: Int) { lengths[slot] = 0 }

    /// Makes `destination` hold a copy of `source`'s sequence (to share one prefilled prompt across samples).
    public func copy(slot source: Int, to destination: Int) {
        guard source != destination else { return }
        let n = lengths[source] * headDim
        for l in 0 ..< layers {
            for g in 0 ..< kvHeads {
                keys(layer: l, slot: destination, head: g).update(from: keys(layer: l, slot: source, head: g), count: n)
                values(layer: l, slot: destination, head: g).update(from: values(layer: l, slot: source, head: g), count: n)
            }
        }
        lengths[destination] = lengths[source]
    }
}
