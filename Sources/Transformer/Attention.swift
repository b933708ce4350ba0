import Numerics

/// Causal grouped-query attention of a batch's new tokens over their slots' cached keys and values.
///
/// For row `t` (cache slot `s`, absolute position `p`) and query head `h`, with kv head `g = h / (H / KV)`:
/// `out[t, h] = Σ_{j ≤ p} softmax_j(q[t, h] · K[s, j, g] / √d) · V[s, j, g]`, all in fp32.
/// Shapes: `q`, `out` `[T, H·d]`; the cache holds `[slots, capacity, KV·d]` per layer and must already contain
/// this batch's keys and values at their positions.
enum Attention {
    static func forward(q: UnsafePointer<Float>, layout: BatchLayout, cache: KVCache, layer: Int,
                        heads: Int, kvHeads: Int, headDim d: Int, into out: UnsafeMutablePointer<Float>,
                        threads: Int) {
        let groupSize = heads / kvHeads
        let qDim = heads * d, kvDim = kvHeads * d
        let scale = Float(1 / Double(d).squareRoot())
        let items = layout.tokenCount * heads
        // Work is split into interleaved chunks so later (longer) positions spread over all workers.
        let chunks = items < 64 ? 1 : min(items, threads * 8)
        layout.positions.withUnsafeBufferPointer { positions in
            layout.slots.withUnsafeBufferPointer { slots in
                Parallel.forEach(count: chunks, threads: threads) { chunk in
                    let scores = UnsafeMutablePointer<Float>.allocate(capacity: cache.capacity)
                    defer { scores.deallocate() }
                    var item = chunk
                    while item < items {
                        let t = item / heads, h = item % heads, g = h / groupSize
                        let length = positions[t] + 1
                        let qv = q + t * qDim + h * d
                        let keys = cache.keys(layer: layer, slot: slots[t]) + g * d
                        let values = cache.values(layer: layer, slot: slots[t]) + g * d
                        for j in 0 ..< length {
                            scores[j] = dot(qv, keys + j * kvDim, count: d) * scale
                        }
                        Kernels.softmax(scores, count: length)
                        let o = out + t * qDim + h * d
                        o.update(repeating: 0, count: d)
                        for j in 0 ..< length {
                            axpy(scores[j], values + j * kvDim, o, count: d)
                        }
                        item += chunks
                    }
                }
            }
        }
    }

    /// `y += a·x`.
    @inline(__always)
    static func axpy(_ a: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 16 <= count {
            store16(load16(y + i).addingProduct(SIMD16(repeating: a), load16(x + i)), y + i)
            i += 16
        }
        while i < count {
            y[i] += a * x[i]
            i += 1
        }
    }
}
