import CBLAS
import Numerics
import Transformer

/// The low-rank term of one adapted linear layer in HF layout, on raw pointers:
/// `y[T, out] += ((x[T, in]·Aᵀ)·Rᵀ)·Bᵀ` with `A` `[r, in]`, `R` `[r, r]`, `B` `[out, r]`, all row-major — i.e.
/// `y += x·(B·R·A)ᵀ` without forming the `[out, in]` product. Cost `T·r·(in + r + out)`.
public enum LowRank {
    /// Adds the term to `y` (after the base product `x·Wᵀ`). `bT` is `Bᵀ` `[r, out]` (contiguous rows make the
    /// last step a sum of r scaled rows). Rows of x are split over `threads` when the work is large enough.
    public static func addDelta(_ x: UnsafePointer<Float>, rows t: Int, inFeatures: Int,
                                a: UnsafePointer<Float>, r: UnsafePointer<Float>, rank: Int,
                                bT: UnsafePointer<Float>, outFeatures: Int,
                                into y: UnsafeMutablePointer<Float>, threads: Int = 1) {
        guard t > 0, rank > 0 else { return }
        let parts = t * rank * (inFeatures + outFeatures) < 1 << 18 ? 1 : max(1, min(threads, t))
        Parallel.forRanges(total: t, parts: parts, threads: threads) { block in
            let h = UnsafeMutablePointer<Float>.allocate(capacity: 2 * rank)
            defer { h.deallocate() }
            let g = h + rank
            for row in block {
                let xr = x + row * inFeatures, yr = y + row * outFeatures
                // h = A·x  [r]
                for j in 0 ..< rank { h[j] = dot(a + j * inFeatures, xr, count: inFeatures) }
                // g = R·h  [r]
                for i in 0 ..< rank {
                    var s: Float = 0
                    for j in 0 ..< rank { s += r[i * rank + j] * h[j] }
                    g[i] = s
                }
                // y += Σ_i g_i · Bᵀ[i, :]
                for i in 0 ..< rank { axpy(g[i], bT + i * outFeatures, yr, count: outFeatures) }
            }
        }
    }

    /// `w[out, in] += B·R·A` (merge into a weight copy).
    public static func addDeltaWeight(a: UnsafePointer<Float>, r: UnsafePointer<Float>, rank: Int,
                                      b: UnsafePointer<Float>, outFeatures: Int, inFeatures: Int,
                                      into w: UnsafeMutablePointer<Float>) {
        // M = B·R [out, r], then w += M·A.
        var m = [Float](repeating: 0, count: outFeatures * rank)
        for o in 0 ..< outFeatures {
            for i in 0 ..< rank {
                var s: Float = 0
                for j in 0 ..< rank { s += b[o * rank + j] * r[j * rank + i] }
                m[o * rank + i] = s
            }
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(outFeatures), Int32(inFeatures), Int32(rank),
                    1, m, Int32(rank), a, Int32(inFeatures), 1, w, Int32(inFeatures))
    }

    /// `y[i] += alpha·x[i]` with SIMD16.
    @inline(__always)
    static func axpy(_ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        let av = SIMD16<Float>(repeating: alpha)
        var i = 0
        while i + 16 <= count {
            store16(load16(y + i).addingProduct(av, load16(x + i)), y + i)
            i += 16
        }
        while i < count {
            y[i] += alpha * x[i]
            i += 1
        }
    }
}

/// The low-rank delta of one adapted linear layer: frozen or trained `A` `[r, in]`, `B` `[out, r]` and the current
/// `R` `[r, r]` (TinyLoRA Σ vᵢPᵢ, LoRA-XS its R, LoRA (α/r)·I). This is what the engine calls after a target
/// linear's base product: `addDelta(x, rows:, into: y, threads:)`; its `backward` accumulates `∂L/∂R` (and, for
/// LoRA, `∂L/∂A`, `∂L/∂B`).
public final class LowRankDelta: LinearDelta, @unchecked Sendable {
    public let outFeatures: Int
    public let inFeatures: Int
    public let rank: Int
    /// `[r, in]`.
    public private(set) var a: [Float]
    /// `[out, r]`.
    public private(set) var b: [Float]
    /// `Bᵀ` `[r, out]` (kept in step with `b`).
    public private(set) var bT: [Float]
    /// `[r, r]`.
    public var r: [Float]
    /// Whether `backward` also accumulates `gradA` and `gradB` (LoRA, whose factors are trained).
    public var trainsFactors = false
    /// `∂L/∂R` `[r, r]`, accumulated by `backward` (zero it with `zeroGradients`).
    public private(set) var gradR: [Float]
    /// `∂L/∂A` `[r, in]` (only with `trainsFactors`; empty otherwise).
    public private(set) var gradA: [Float] = []
    /// `∂L/∂B` `[out, r]` (only with `trainsFactors`; empty otherwise).
    public private(set) var gradB: [Float] = []

    public init(a: [Float], b: [Float], r: [Float], rank: Int, outFeatures: Int, inFeatures: Int) throws {
        guard a.count == rank * inFeatures, b.count == outFeatures * rank, r.count == rank * rank else {
            throw AdapterError("low-rank delta: A \(a.count), B \(b.count), R \(r.count) values do not fit r = \(rank), "
                + "[\(outFeatures), \(inFeatures)]")
        }
        self.a = a
        self.b = b
        self.r = r
        self.rank = rank
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        bT = LowRankDelta.transpose(b, rows: outFeatures, cols: rank)
        gradR = [Float](repeating: 0, count: rank * rank)
    }

    /// Sets every accumulated gradient to zero (and sizes `gradA`, `gradB` to follow `trainsFactors`).
    public func zeroGradients() {
        gradR = [Float](repeating: 0, count: rank * rank)
        gradA = trainsFactors ? [Float](repeating: 0, count: rank * inFeatures) : []
        gradB = trainsFactors ? [Float](repeating: 0, count: outFeatures * rank) : []
    }

    /// Replaces A and B (LoRA, whose factors are trained).
    public func setFactors(a: [Float], b: [Float]) {
        precondition(a.count == self.a.count && b.count == self.b.count, "LowRankDelta.setFactors: shape changed")
        self.a = a
        self.b = b
        bT = LowRankDelta.transpose(b, rows: outFeatures, cols: rank)
    }

    /// `y[rows, out] += ((x·Aᵀ)·Rᵀ)·Bᵀ`.
    public func addDelta(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, threads: Int) {
        a.withUnsafeBufferPointer { a in
            r.withUnsafeBufferPointer { r in
                bT.withUnsafeBufferPointer { bT in
                    LowRank.addDelta(x, rows: rows, inFeatures: inFeatures, a: a.baseAddress!, r: r.baseAddress!,
                                     rank: rank, bT: bT.baseAddress!, outFeatures: outFeatures, into: y,
                                     threads: threads)
                }
            }
        }
    }

    /// Backward of `y += ((x·Aᵀ)·Rᵀ)·Bᵀ` for `T` rows, with `h = x·Aᵀ` `[T, r]`, `g = h·Rᵀ` `[T, r]`,
    /// `dg = dY·B` `[T, r]`, `dh = dg·R` `[T, r]`:
    ///
    ///     dR += dgᵀ·h        [r, r]    (g[t,i] = Σ_j h[t,j]·R[i,j]  ⇒  ∂L/∂R[i,j] = Σ_t dg[t,i]·h[t,j])
    ///     dX += dh·A         [T, in]
    ///     dB += dYᵀ·g        [out, r]  (trainsFactors)
    ///     dA += dhᵀ·x        [r, in]   (trainsFactors)
    public func backward(_ x: UnsafePointer<Float>, rows t: Int, outputGradient dY: UnsafePointer<Float>,
                         addingInputGradientTo dX: UnsafeMutablePointer<Float>, threads: Int) {
        guard t > 0 else { return }
        if gradR.count != rank * rank || (trainsFactors && gradA.isEmpty) { zeroGradients() }
        let k = rank, n = Int32(t), rr = Int32(rank), inF = Int32(inFeatures), outF = Int32(outFeatures)
        var h = [Float](repeating: 0, count: t * k), dg = h, dh = h
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                r.withUnsafeBufferPointer { r in
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, rr, inF, 1, x, inF, a.baseAddress!, inF,
                                0, &h, rr)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, rr, outF, 1, dY, outF, b.baseAddress!, rr,
                                0, &dg, rr)
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, rr, rr, n, 1, dg, rr, h, rr, 1, &gradR, rr)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, rr, rr, 1, dg, rr, r.baseAddress!, rr,
                                0, &dh, rr)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, inF, rr, 1, dh, rr, a.baseAddress!, inF,
                                1, dX, inF)
                    if trainsFactors {
                        var g = [Float](repeating: 0, count: t * k)
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, rr, rr, 1, h, rr, r.baseAddress!, rr,
                                    0, &g, rr)
                        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, outF, rr, n, 1, dY, outF, g, rr,
                                    1, &gradB, rr)
                        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, rr, inF, n, 1, dh, rr, x, inF,
                                    1, &gradA, inF)
                    }
                }
            }
        }
    }

    /// `W + B·R·A` as a new array (`w` `[out, in]` is not modified).
    public func merged(into w: [Float]) -> [Float] {
        precondition(w.count == outFeatures * inFeatures, "LowRankDelta.merged: weight has the wrong size")
        var result = w
        result.withUnsafeMutableBufferPointer { out in
            a.withUnsafeBufferPointer { a in
                r.withUnsafeBufferPointer { r in
                    b.withUnsafeBufferPointer { b in
                        LowRank.addDeltaWeight(a: a.baseAddress!, r: r.baseAddress!, rank: rank, b: b.baseAddress!,
                                               outFeatures: outFeatures, inFeatures: inFeatures, into: out.baseAddress!)
                    }
                }
            }
        }
        return result
    }

    /// `ΔW = B·R·A` `[out, in]`.
    public func deltaWeight() -> [Float] {
        merged(into: [Float](repeating: 0, count: outFeatures * inFeatures))
    }

    static func transpose(_ m: [Float], rows: Int, cols: Int) -> [Float] {
        var t = [Float](repeating: 0, count: m.count)
        for i in 0 ..< rows { for j in 0 ..< cols { t[j * rows + i] = m[i * cols + j] } }
        return t
    }
}
