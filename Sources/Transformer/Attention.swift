import CBLAS
import Numerics

/// Causal grouped-query attention of a batch's new tokens over their slots' cached keys and values.
///
/// For row `t` (cache slot `s`, absolute position `p`) and query head `h`, with kv head `g = h / (H / KV)`:
/// `out[t, h] = Σ_{j ≤ p} softmax_j(q[t, h] · K[s, j, g] / √d) · V[s, j, g]`, all in fp32.
/// Shapes: `q`, `out` `[T, H·d]`; the cache holds `[slots, KV, capacity, d]` per layer (fp32 or fp16, see
/// `KVCache`) and must already contain this batch's keys and values at their positions. An fp16 cache's rows are
/// widened to fp32 (exactly) as they are read; the arithmetic is the same.
///
/// A sequence with at least `gemmMinTokens` new tokens (a prefill) is done per head with two GEMMs,
/// `S = Q_h·K_gᵀ/√d` `[n, L]` (then the causal softmax per row) and `O_h = S·V_g` `[n, d]`, over blocks of
/// `causalBlockRows` query rows, each only as far as its last row's keys (S is zero past the diagonal); rows of shorter
/// sequences (decode steps) are done one (row, kv head) at a time, all the query heads of that kv head together
/// (`DecodeAttention`'s AVX-512 kernels; portable dot products where the CPU lacks AVX-512).
enum Attention {
    static let gemmMinTokens = 8
    /// Query rows per block of the causal products (a prefill's forward, the backward).
    static let causalBlockRows = 64

    static func forward(q: UnsafePointer<Float>, layout: BatchLayout, cache: KVCache, layer: Int,
                        heads: Int, kvHeads: Int, headDim d: Int, into out: UnsafeMutablePointer<Float>,
                        threads: Int) {
        let groupSize = heads / kvHeads
        let qDim = heads * d
        let scale = Float(1 / Double(d).squareRoot())

        let long = layout.sequences.filter { $0.count >= gemmMinTokens }
        if !long.isEmpty {
            let items = long.count * heads
            let workers = min(max(threads, 1), items)
            let scratchSize = long.map { $0.count * ($0.start + $0.count) }.max()!
            let longest = long.map { $0.start + $0.count }.max()!
            Parallel.forEach(count: workers, threads: workers) { w in
                let scores = UnsafeMutablePointer<Float>.allocate(capacity: scratchSize)
                let widened = WidenedRows(cache: cache, rows: longest)
                defer { scores.deallocate() }
                for item in stride(from: w, to: items, by: workers) {
                    let seq = long[item / heads], h = item % heads, g = h / groupSize
                    let n = seq.count, length = seq.start + seq.count
                    let (keys, values) = widened.rows(layer: layer, slot: seq.slot, head: g, count: length)
                    // Query rows in blocks that end at multiples of `causalBlockRows` in absolute position: a block
                    // [r0, r1) sees keys 0 ..< start + r1 only, so both products stop there (the probabilities past
                    // the diagonal are zero). Aligned to positions, not to the segment's first row, so a row's block
                    // ends at the same key whether its sequence comes whole or as a segment after a cached prefix.
                    var r0 = 0
                    while r0 < n {
                        let mb = min(seq.start + n, ((seq.start + r0) / causalBlockRows + 1) * causalBlockRows)
                        let r1 = mb - seq.start
                        let rows = scores + r0 * length
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(r1 - r0), Int32(mb), Int32(d),
                                    scale, q + (seq.firstRow + r0) * qDim + h * d, Int32(qDim), keys, Int32(d),
                                    0, rows, Int32(length))
                        for i in r0 ..< r1 {
                            let row = scores + i * length, valid = seq.start + i + 1
                            Kernels.softmax(row, count: valid)
                            (row + valid).update(repeating: 0, count: mb - valid)
                        }
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(r1 - r0), Int32(d), Int32(mb),
                                    1, rows, Int32(length), values, Int32(d),
                                    0, out + (seq.firstRow + r0) * qDim + h * d, Int32(qDim))
                        r0 = r1
                    }
                }
            }
        }

        // Decode rows: one (row, kv head) at a time, so each cached key and value row is read once for all the
        // query heads that share it.
        let shortRows = layout.sequences.filter { $0.count < gemmMinTokens }.flatMap { $0.firstRow ..< $0.firstRow + $0.count }
        guard !shortRows.isEmpty else { return }
        let items = shortRows.count * kvHeads
        let longest = shortRows.map { layout.positions[$0] + 1 }.max()!
        // Split when there are at least ~1k cached rows to read (a few µs of work per worker): a single sequence's
        // kv heads go to different workers once its context is long.
        let workers = items * longest < 1024 ? 1 : min(max(threads, 1), items)
        let vectorKernels = DecodeAttention.isSupported(headDim: d)
        let half = cache.storage == .fp16
        layout.positions.withUnsafeBufferPointer { positions in
            layout.slots.withUnsafeBufferPointer { slots in
                Parallel.forEach(count: workers, threads: workers) { w in
                    let scores = UnsafeMutablePointer<Float>.allocate(capacity: groupSize * longest)
                    let widened = WidenedRows(cache: cache, rows: vectorKernels ? 0 : longest)
                    defer { scores.deallocate() }
                    for item in stride(from: w, to: items, by: workers) {
                        let t = shortRows[item / kvHeads], g = item % kvHeads
                        let length = positions[t] + 1
                        let q0 = q + t * qDim + g * groupSize * d
                        let o0 = out + t * qDim + g * groupSize * d
                        if vectorKernels && half {
                            DecodeAttention.scores(q: q0, heads: groupSize, headDim: d,
                                                   keys: cache.keyBits(layer: layer, slot: slots[t], head: g),
                                                   stride: d, length: length, scale: scale, into: scores)
                            for i in 0 ..< groupSize { Kernels.softmax(scores + i * length, count: length) }
                            DecodeAttention.values(p: scores, heads: groupSize,
                                                   values: cache.valueBits(layer: layer, slot: slots[t], head: g),
                                                   stride: d, length: length, headDim: d, into: o0)
                            continue
                        }
                        let (keys, values) = widened.rows(layer: layer, slot: slots[t], head: g, count: length)
                        if vectorKernels {
                            DecodeAttention.scores(q: q0, heads: groupSize, headDim: d, keys: keys, stride: d,
                                                   length: length, scale: scale, into: scores)
                            for i in 0 ..< groupSize { Kernels.softmax(scores + i * length, count: length) }
                            DecodeAttention.values(p: scores, heads: groupSize, values: values, stride: d,
                                                   length: length, headDim: d, into: o0)
                            continue
                        }
                        for j in 0 ..< length {
                            let key = keys + j * d
                            for i in 0 ..< groupSize {
                                scores[i * length + j] = dot(q0 + i * d, key, count: d) * scale
                            }
                        }
                        o0.update(repeating: 0, count: groupSize * d)
                        for i in 0 ..< groupSize { Kernels.softmax(scores + i * length, count: length) }
                        for j in 0 ..< length {
                            let value = values + j * d
                            for i in 0 ..< groupSize {
                                axpy(scores[i * length + j], value, o0 + i * d, count: d)
                            }
                        }
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

    /// Backward of causal attention for `n` query rows at positions `s ..< s+n` of one sequence whose keys and values
    /// cover positions `0 ..< m`, `m = s + n` (`s = 0`: a whole sequence; `s > 0`: a segment after a cached prefix),
    /// per query head `h` with kv head `g`, `Q_h` `[n, d]`, `K_g`, `V_g` `[m, d]`,
    /// `P = causal-softmax(Q_h·K_gᵀ/√d)` `[n, m]` (row i sees keys `0 ... s+i`; recomputed), `O_h = P·V_g`, given `dO_h`:
    ///
    ///     dP = dO_h·V_gᵀ                           [n, m]
    ///     dS_ij = P_ij·(dP_ij − Σ_k P_ik·dP_ik)    (zero for j > s+i, where P is zero)
    ///     dQ_h = dS·K_g/√d,   dK_g += dSᵀ·Q_h/√d,   dV_g += Pᵀ·dO_h      [n, d], [m, d], [m, d]
    ///
    /// Shapes: `q`, `dO`, `dQ` `[n, H·d]`; `dK`, `dV` `[m, KV·d]` (rows `0 ..< s` are the gradients of the prefix's
    /// cached keys and values); `keys`, `values` hold kv head g's `[m, d]` at `g·headStride`, rows `rowStride` apart
    /// (a `KVCache` slot: `cache.headStride`, `d`). `dQ`, `dK`, `dV` are overwritten.
    /// Work is split over kv heads (each owns its dK_g, dV_g columns); the products run over blocks of
    /// `causalBlockRows` query rows, each only as far as its last row's keys.
    static func backward(q: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
                         headStride: Int, rowStride: Int, queryStart s: Int = 0, rows n: Int, heads: Int,
                         kvHeads: Int, headDim d: Int,
                         outputGradient dO: UnsafePointer<Float>, dQ: UnsafeMutablePointer<Float>,
                         dK: UnsafeMutablePointer<Float>, dV: UnsafeMutablePointer<Float>, threads: Int) {
        let groupSize = heads / kvHeads
        let qDim = heads * d, kvDim = kvHeads * d
        let scale = Float(1 / Double(d).squareRoot())
        let m = s + n
        let m32 = Int32(m), d32 = Int32(d), q32 = Int32(qDim), kv32 = Int32(kvDim), ld32 = Int32(rowStride)
        Parallel.forEach(count: kvHeads, threads: threads) { g in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: n * m)
            let dp = UnsafeMutablePointer<Float>.allocate(capacity: n * m)
            defer { p.deallocate(); dp.deallocate() }
            let k = keys + g * headStride, v = values + g * headStride
            let dk = dK + g * d, dv = dV + g * d
            for j in 0 ..< m {
                (dk + j * kvDim).update(repeating: 0, count: d)
                (dv + j * kvDim).update(repeating: 0, count: d)
            }
            for h in g * groupSize ..< (g + 1) * groupSize {
                // Query rows in blocks [r0, r1): a block sees keys 0 ..< s + r1 only (P and dS are zero past the
                // diagonal), so each product stops there — about half the work of the full [n, m] products.
                for r0 in stride(from: 0, to: n, by: causalBlockRows) {
                    let r1 = min(n, r0 + causalBlockRows), mb = s + r1
                    let nb32 = Int32(r1 - r0), mb32 = Int32(mb)
                    let qb = q + r0 * qDim + h * d, dob = dO + r0 * qDim + h * d
                    let pb = p + r0 * m, dpb = dp + r0 * m
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb32, mb32, d32, scale, qb, q32, k, ld32,
                                0, pb, m32)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nb32, mb32, d32, 1, dob, q32, v, ld32,
                                0, dpb, m32)
                    for i in r0 ..< r1 {
                        let pr = p + i * m, dr = dp + i * m, valid = s + i + 1
                        Kernels.softmax(pr, count: valid)
                        (pr + valid).update(repeating: 0, count: mb - valid)
                        let mean = dot(pr, dr, count: valid)
                        for j in 0 ..< valid { dr[j] = pr[j] * (dr[j] - mean) }
                        (dr + valid).update(repeating: 0, count: mb - valid)
                    }
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, nb32, d32, mb32, scale, dpb, m32, k, ld32,
                                0, dQ + r0 * qDim + h * d, q32)
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, mb32, d32, nb32, scale, dpb, m32, qb, q32,
                                1, dk, kv32)
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, mb32, d32, nb32, 1, pb, m32, dob, q32,
                                1, dv, kv32)
                }
            }
        }
    }
}

/// One worker's view of a cache's rows as fp32: an fp32 cache's own rows, or an fp16 cache's rows widened into
/// scratch (`rows` positions of keys and values, reused by every call).
private final class WidenedRows {
    let cache: KVCache
    let scratch: UnsafeMutablePointer<Float>?
    let rows: Int

    init(cache: KVCache, rows: Int) {
        self.cache = cache
        self.rows = rows
        scratch = cache.storage == .fp16 && rows > 0
            ? UnsafeMutablePointer<Float>.allocate(capacity: 2 * rows * cache.headDim) : nil
    }

    deinit { scratch?.deallocate() }

    /// Keys and values `[count, headDim]` of `slot`'s kv head `head` in `layer`, rows `headDim` apart.
    func rows(layer: Int, slot: Int, head: Int, count: Int) -> (UnsafePointer<Float>, UnsafePointer<Float>) {
        guard let scratch else {
            return (UnsafePointer(cache.keys(layer: layer, slot: slot, head: head)),
                    UnsafePointer(cache.values(layer: layer, slot: slot, head: head)))
        }
        precondition(count <= rows, "WidenedRows: \(count) rows asked of \(rows)")
        let values = scratch + rows * cache.headDim
        cache.read(layer: layer, slot: slot, head: head, count: count, keys: scratch, values: values)
        return (UnsafePointer(scratch), UnsafePointer(values))
    }
}
