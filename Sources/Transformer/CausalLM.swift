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
/// Layout per layer: keys and values each `[slots, kvHeads, capacity, headDim]`, so that one kv head's cached
/// rows of one sequence are contiguous (`headDim` elements apart): decode-time attention streams them (with rows
/// interleaved by head, `[capacity, kvHeads·headDim]`, it ran ~1.6× slower, reading a third of each span).
/// Elements are fp32, or IEEE half (`Storage.fp16`: each value rounded to nearest even when stored, saturating at
/// ±65504, and widened exactly when read; half the bytes for attention to read per decoded token). Half keeps 11
/// significant bits; bf16's 8 made greedy decoding of the 0.5B model leave fp32's tokens within 8 steps (a test).
/// A slot's first `lengths[slot]` positions are valid.
public final class KVCache {
    /// The number format of the cached elements.
    public enum Storage: Sendable {
        case fp32, fp16

        var bytes: Int { self == .fp32 ? 4 : 2 }
    }

    public let layers: Int
    public let slots: Int
    public let capacity: Int
    public let kvHeads: Int
    public let headDim: Int
    public let storage: Storage
    /// Valid positions per slot.
    public var lengths: [Int]
    private let keyStorage: [UnsafeMutableRawPointer]
    private let valueStorage: [UnsafeMutableRawPointer]

    /// Width of one position's keys (or values) across heads, kvHeads × headDim.
    public var kvDim: Int { kvHeads * headDim }
    /// Elements between the starts of two consecutive kv heads of one slot (`capacity × headDim`).
    public var headStride: Int { capacity * headDim }
    /// Bytes one position takes in all layers, keys and values.
    public var bytesPerPosition: Int { layers * 2 * kvDim * storage.bytes }

    public init(layers: Int, slots: Int, capacity: Int, kvHeads: Int, headDim: Int, storage: Storage = .fp32) {
        self.layers = layers
        self.slots = slots
        self.capacity = capacity
        self.kvHeads = kvHeads
        self.headDim = headDim
        self.storage = storage
        lengths = Array(repeating: 0, count: slots)
        let bytes = max(slots * kvHeads * capacity * headDim, 1) * storage.bytes
        func allocate() -> UnsafeMutableRawPointer {
            let p = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
            HugePages.advise(p, byteCount: bytes)
            p.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
            return p
        }
        keyStorage = (0 ..< layers).map { _ in allocate() }
        valueStorage = (0 ..< layers).map { _ in allocate() }
    }

    deinit {
        keyStorage.forEach { $0.deallocate() }
        valueStorage.forEach { $0.deallocate() }
    }

    /// Start of `slot`'s kv head `head` in one layer's buffer, as elements of type `T` of a cache in `format`.
    @inline(__always)
    private func rows<T>(_ buffer: UnsafeMutableRawPointer, slot: Int, head: Int, _ format: Storage,
                         as: T.Type) -> UnsafeMutablePointer<T> {
        precondition(storage == format, "reading a \(storage) cache as \(format)")
        return (buffer + (slot * kvHeads + head) * capacity * headDim * storage.bytes).assumingMemoryBound(to: T.self)
    }

    /// `slot`'s cached keys of kv head `head` in `layer` in an fp32 cache: `[capacity, headDim]`, rows `headDim`
    /// apart; the next head's start `headStride` elements further.
    @inline(__always)
    public func keys(layer: Int, slot: Int, head: Int = 0) -> UnsafeMutablePointer<Float> {
        rows(keyStorage[layer], slot: slot, head: head, .fp32, as: Float.self)
    }

    /// `slot`'s cached values of kv head `head` in `layer` in an fp32 cache (the layout of `keys`).
    @inline(__always)
    public func values(layer: Int, slot: Int, head: Int = 0) -> UnsafeMutablePointer<Float> {
        rows(valueStorage[layer], slot: slot, head: head, .fp32, as: Float.self)
    }

    /// The fp16 bit patterns of `slot`'s keys of kv head `head` in `layer` in an fp16 cache (the layout of `keys`).
    @inline(__always)
    public func keyBits(layer: Int, slot: Int, head: Int = 0) -> UnsafeMutablePointer<UInt16> {
        rows(keyStorage[layer], slot: slot, head: head, .fp16, as: UInt16.self)
    }

    /// The fp16 bit patterns of `slot`'s values of kv head `head` in `layer` in an fp16 cache.
    @inline(__always)
    public func valueBits(layer: Int, slot: Int, head: Int = 0) -> UnsafeMutablePointer<UInt16> {
        rows(valueStorage[layer], slot: slot, head: head, .fp16, as: UInt16.self)
    }

    /// Writes one position's keys and values, `key` and `value` `[kvHeads·headDim]` (head after head), at `position`
    /// of `slot` in `layer` (rounded to nearest even, saturating, in an fp16 cache).
    @inline(__always)
    public func store(layer: Int, slot: Int, position: Int, key: UnsafePointer<Float>, value: UnsafePointer<Float>) {
        for g in 0 ..< kvHeads {
            let row = position * headDim, source = g * headDim
            switch storage {
            case .fp32:
                (keys(layer: layer, slot: slot, head: g) + row).update(from: key + source, count: headDim)
                (values(layer: layer, slot: slot, head: g) + row).update(from: value + source, count: headDim)
            case .fp16:
                let k = keyBits(layer: layer, slot: slot, head: g) + row
                let v = valueBits(layer: layer, slot: slot, head: g) + row
                for e in 0 ..< headDim {
                    k[e] = Self.half(key[source + e])
                    v[e] = Self.half(value[source + e])
                }
            }
        }
    }

    /// Copies rows `0 ..< count` of `slot`'s kv head `head` in `layer` into `keys` and `values` `[count, headDim]`
    /// as fp32 (exact: an fp16 cache's elements widened; an fp32 cache's copied).
    public func read(layer: Int, slot: Int, head: Int, count: Int, keys: UnsafeMutablePointer<Float>,
                     values: UnsafeMutablePointer<Float>) {
        let n = count * headDim
        switch storage {
        case .fp32:
            keys.update(from: self.keys(layer: layer, slot: slot, head: head), count: n)
            values.update(from: self.values(layer: layer, slot: slot, head: head), count: n)
        case .fp16:
            let k = keyBits(layer: layer, slot: slot, head: head), v = valueBits(layer: layer, slot: slot, head: head)
            for e in 0 ..< n {
                keys[e] = Half.f16ToFloat(k[e])
                values[e] = Half.f16ToFloat(v[e])
            }
        }
    }

    /// `x` as the nearest half (ties to even), ±65504 beyond that range (an infinity would turn the attention into
    /// NaNs); NaN stays NaN.
    @inline(__always)
    static func half(_ x: Float) -> UInt16 {
        Half.floatToF16(x.magnitude > 65504 ? (x < 0 ? -65504 : 65504) : x)
    }

    /// Forgets a slot's sequence.
    public func reset(slot: Int) { lengths[slot] = 0 }

    /// Makes `destination` hold a copy of `source`'s sequence (to share one prefilled prompt across samples).
    public func copy(slot source: Int, to destination: Int) {
        guard source != destination else { return }
        let bytes = lengths[source] * headDim * storage.bytes
        for l in 0 ..< layers {
            for g in 0 ..< kvHeads {
                for buffer in [keyStorage[l], valueStorage[l]] {
                    UnsafeMutableRawPointer(rows(buffer, slot: destination, head: g, storage, as: UInt8.self))
                        .copyMemory(from: rows(buffer, slot: source, head: g, storage, as: UInt8.self), byteCount: bytes)
                }
            }
        }
        lengths[destination] = lengths[source]
    }
}
