import Numerics

/// One block's forward activations over `T` rows, kept for its backward:
/// `h1 = RMSNorm(x)·γ₁` `[T, hidden]`, `q` (after RoPE) and `attention` `[T, H·d]`, `xMid = x + attention·Woᵀ` and
/// `h2 = RMSNorm(xMid)·γ₂` `[T, hidden]`, `gate = h2·Wgᵀ` and `up = h2·Wuᵀ` `[T, ffn]` (≈ 57 KB per row on Qwen2.5-0.5B).
/// The backward overwrites `gate` and `up` with their gradients.
final class LayerActivations {
    let h1, q, attention, xMid, h2, gate, up: UnsafeMutablePointer<Float>
    /// The buffers' owner when this is a view of some of its rows (nil: this object owns them).
    private let owner: LayerActivations?

    init(rows t: Int, config c: TransformerConfig) {
        func make(_ width: Int) -> UnsafeMutablePointer<Float> { .allocate(capacity: max(1, t * width)) }
        h1 = make(c.hiddenSize)
        q = make(c.queryDim)
        attention = make(c.queryDim)
        xMid = make(c.hiddenSize)
        h2 = make(c.hiddenSize)
        gate = make(c.intermediateSize)
        up = make(c.intermediateSize)
        owner = nil
    }

    /// A view of `whole`'s rows from `first` on (no copy; it keeps `whole` alive).
    init(rowsOf whole: LayerActivations, from first: Int, config c: TransformerConfig) {
        h1 = whole.h1 + first * c.hiddenSize
        q = whole.q + first * c.queryDim
        attention = whole.attention + first * c.queryDim
        xMid = whole.xMid + first * c.hiddenSize
        h2 = whole.h2 + first * c.hiddenSize
        gate = whole.gate + first * c.intermediateSize
        up = whole.up + first * c.intermediateSize
        owner = whole.owner ?? whole
    }

    /// Bytes per row for `config`.
    static func bytesPerRow(_ c: TransformerConfig) -> Int {
        4 * (3 * c.hiddenSize + 2 * c.queryDim + 2 * c.intermediateSize)
    }

    deinit {
        guard owner == nil else { return }
        for p in [h1, q, attention, xMid, h2, gate, up] { p.deallocate() }
    }
}

/// Gradients of the loss with respect to one layer's cached keys (after RoPE) and values at positions `0 ..< P` of
/// a shared prefix, each `[P, KV·d]`: what the rows after the prefix send back to it through attention.
struct KeyValueGradient {
    let keys, values: UnsafeMutablePointer<Float>
}

/// Temporaries of `forwardRecording` that are not kept: new keys and values `[T, KV·d]`, the SwiGLU product
/// `[T, ffn]` and the down projection `[T, hidden]`.
final class RecordingScratch {
    let keys, values, act, projected: UnsafeMutablePointer<Float>

    init(rows t: Int, config c: TransformerConfig) {
        func make(_ width: Int) -> UnsafeMutablePointer<Float> { .allocate(capacity: max(1, t * width)) }
        keys = make(c.kvDim)
        values = make(c.kvDim)
        act = make(c.intermediateSize)
        projected = make(c.hiddenSize)
    }

    deinit {
        for p in [keys, values, act, projected] { p.deallocate() }
    }
}

extension DecoderLayer {
    /// The block's forward (the same operations, in the same order, as `forward`) on `x` `[T, hidden]` in place,
    /// appending this batch's keys and values to `cache` and recording the activations its backward needs in `a`.
    func forwardRecording(_ x: UnsafeMutablePointer<Float>, layout: BatchLayout, cache: KVCache, layer: Int,
                          config c: TransformerConfig, rope: RoPE, ropeTables: RoPETables, into a: LayerActivations,
                          scratch s: RecordingScratch, threads: Int) {
        let t = layout.tokenCount, hidden = c.hiddenSize
        inputNorm.withUnsafeBufferPointer {
            Kernels.rmsNorm(x, weight: $0.baseAddress!, rows: t, n: hidden, eps: c.rmsNormEpsilon, into: a.h1)
        }
        Linear.forward([q, k, v], sharedInput: a.h1, rows: t, into: [a.q, s.keys, s.values], threads: threads)
        for row in 0 ..< t {
            let cosRow = ropeTables.cos + row * ropeTables.width, sinRow = ropeTables.sin + row * ropeTables.width
            rope.applyRotateHalf(a.q + row * c.queryDim, heads: c.headCount, cos: cosRow, sin: sinRow)
            rope.applyRotateHalf(s.keys + row * c.kvDim, heads: c.kvHeadCount, cos: cosRow, sin: sinRow)
            cache.store(layer: layer, slot: layout.slots[row], position: layout.positions[row],
                        key: s.keys + row * c.kvDim, value: s.values + row * c.kvDim)
        }
        Attention.forward(q: a.q, layout: layout, cache: cache, layer: layer, heads: c.headCount,
                          kvHeads: c.kvHeadCount, headDim: c.headDim, into: a.attention, threads: threads)
        o.forward(a.attention, rows: t, into: s.projected, threads: threads)
        Kernels.add(s.projected, into: x, count: t * hidden)
        a.xMid.update(from: x, count: t * hidden)
        postAttentionNorm.withUnsafeBufferPointer {
            Kernels.rmsNorm(x, weight: $0.baseAddress!, rows: t, n: hidden, eps: c.rmsNormEpsilon, into: a.h2)
        }
        Linear.forward([gate, up], sharedInput: a.h2, rows: t, into: [a.gate, a.up], threads: threads)
        Kernels.siluMul(gate: a.gate, up: a.up, count: t * c.intermediateSize, into: s.act)
        down.forward(s.act, rows: t, into: s.projected, threads: threads)
        Kernels.add(s.projected, into: x, count: t * hidden)
    }

    /// The block's backward from recorded activations `a` (see `forwardRecording`) for the `T` rows of one sequence
    /// at positions `s ..< s+T` (`layout` as at its forward, with `s` = its start; the keys (after RoPE) and values
    /// of positions `0 ..< s+T` still in `cache`): `x` is the block's input `[T, hidden]`, `dx` = ∂L/∂(block output)
    /// `[T, hidden]` becomes ∂L/∂(block input). Target linears with a delta accumulate its parameter gradient; frozen
    /// weights get none. Consumes `a.gate` and `a.up`.
    ///
    /// Shared prefixes (see `TransformerModel+SharedPrefixBackward.swift`): with `s > 0` (a segment after a cached
    /// prefix of `s` positions) the gradients of the prefix's cached keys and values, `dK[0 ..< s]`, `dV[0 ..< s]`,
    /// are added to `sendingPrefixGradientTo` (required then); for the prefix itself (`s = 0`),
    /// `receivingGradient` holds what later segments sent (`[T, KV·d]` each) and is added to this block's own dk, dv
    /// before the RoPE inverse and the k/v projections' backward.
    ///
    /// MLP (`xm` = input of the MLP half, `h2 = RMSNorm(xm)·γ₂`, `gt = h2·Wgᵀ`, `u = h2·Wuᵀ`, `a = silu(gt)⊙u`):
    ///
    ///     da = dy·Wd  [T, ffn];   dgt = da⊙u⊙silu'(gt),  du = da⊙silu(gt)
    ///     dh2 = dgt·Wg + du·Wu  [T, hidden];   dxm = dy + RMSNorm'(xm)ᵀ·dh2
    ///
    /// Attention (`h1 = RMSNorm(x)·γ₁`, `q = RoPE(h1·Wqᵀ + bq)`, k, v likewise, `o = Attn(q, k, v)`):
    ///
    ///     do = dxm·Wo  [T, H·d];   (dq, dk, dv) = Attention.backward;   dq, dk ← RoPE⁻¹ (rotation by −angle)
    ///     dh1 = dq·Wq + dk·Wk + dv·Wv  [T, hidden];   dx = dxm + RMSNorm'(x)ᵀ·dh1
    func backward(recorded a: LayerActivations, input x: UnsafePointer<Float>, gradient dx: UnsafeMutablePointer<Float>,
                  layout: BatchLayout, cache: KVCache, layer: Int, config c: TransformerConfig, ropeTables: RoPETables,
                  scratch s: BackwardScratch, threads: Int, sendingPrefixGradientTo sent: KeyValueGradient? = nil,
                  receivingGradient received: KeyValueGradient? = nil) {
        let t = layout.tokenCount, hidden = c.hiddenSize, eps = c.rmsNormEpsilon, ffn = t * c.intermediateSize
        // MLP half.
        Kernels.siluMul(gate: a.gate, up: a.up, count: ffn, into: s.act)
        down.backward(s.act, rows: t, outputGradient: dx, into: s.dAct, accumulate: false, threads: threads)
        Kernels.siluMulBackward(gate: a.gate, up: a.up, outputGradient: s.dAct, count: ffn)
        gate.backward(a.h2, rows: t, outputGradient: a.gate, into: s.dh, accumulate: false, threads: threads)
        up.backward(a.h2, rows: t, outputGradient: a.up, into: s.dh, accumulate: true, threads: threads)
        postAttentionNorm.withUnsafeBufferPointer {
            BackwardKernels.rmsNorm(a.xMid, weight: $0.baseAddress!, rows: t, n: hidden, eps: eps,
                                    outputGradient: s.dh, addingTo: dx)
        }
        // Attention half.
        o.backward(a.attention, rows: t, outputGradient: dx, into: s.dAttention, accumulate: false, threads: threads)
        let slot = layout.sequences[0].slot, start = layout.sequences[0].start
        precondition(start == 0 || sent != nil, "a segment after a prefix needs somewhere to send the prefix's gradient")
        Attention.backward(q: a.q, keys: cache.keys(layer: layer, slot: slot), values: cache.values(layer: layer, slot: slot),
                           headStride: cache.headStride, rowStride: c.headDim,
                           queryStart: start, rows: t, heads: c.headCount, kvHeads: c.kvHeadCount, headDim: c.headDim,
                           outputGradient: s.dAttention, dQ: s.dq, dK: s.dk, dV: s.dv, threads: threads)
        if start > 0, let sent {
            Kernels.add(s.dk, into: sent.keys, count: start * c.kvDim)
            Kernels.add(s.dv, into: sent.values, count: start * c.kvDim)
        }
        // This block's own rows' key and value gradients `[T, KV·d]`.
        let dk = s.dk + start * c.kvDim, dv = s.dv + start * c.kvDim
        if let received {
            Kernels.add(received.keys, into: dk, count: t * c.kvDim)
            Kernels.add(received.values, into: dv, count: t * c.kvDim)
        }
        for row in 0 ..< t {
            let cosRow = ropeTables.cos + row * ropeTables.width, sinRow = ropeTables.sin + row * ropeTables.width
            BackwardKernels.ropeRotateHalf(s.dq + row * c.queryDim, heads: c.headCount, headDim: c.headDim,
                                           cos: cosRow, sin: sinRow)
            BackwardKernels.ropeRotateHalf(dk + row * c.kvDim, heads: c.kvHeadCount, headDim: c.headDim,
                                           cos: cosRow, sin: sinRow)
        }
        q.backward(a.h1, rows: t, outputGradient: s.dq, into: s.dh, accumulate: false, threads: threads)
        k.backward(a.h1, rows: t, outputGradient: dk, into: s.dh, accumulate: true, threads: threads)
        v.backward(a.h1, rows: t, outputGradient: dv, into: s.dh, accumulate: true, threads: threads)
        inputNorm.withUnsafeBufferPointer {
            BackwardKernels.rmsNorm(x, weight: $0.baseAddress!, rows: t, n: hidden, eps: eps, outputGradient: s.dh,
                                    addingTo: dx)
        }
    }
}
