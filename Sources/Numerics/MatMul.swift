import CBLAS

/// Dense products in the layout of Hugging Face linear layers.
///
/// `y[M, N] = x[M, K] · Wᵀ + (accumulate ? y : 0)` where `W` is `[N, K]` row-major (HF `[out, in]`), every
/// matrix row-major and contiguous. For `M == 1` a SIMD16 matrix–vector kernel is used (OpenBLAS sgemm with
/// M = 1 is several times slower than a plain matvec), for `M ≤ smallBatchMaxRows` a register-blocked kernel
/// (`SmallBatchMatMul`), above that single-threaded `cblas_sgemm`. Either way the
/// N output columns are split into `threads` contiguous blocks computed concurrently, which is steadier on a
/// shared machine than OpenBLAS's own threading (call `BLAS.useSingleThread()` once).
public enum MatMul {
    /// Largest M for which the register-blocked small-batch kernel is used instead of sgemm.
    public static let smallBatchMaxRows = 16

    public static func xWt(_ x: UnsafePointer<Float>, rows m: Int, _ w: UnsafePointer<Float>, outFeatures n: Int,
                           inFeatures k: Int, into y: UnsafeMutablePointer<Float>, accumulate: Bool = false,
                           threads: Int = 2) {
        let kernel: Kernel = m == 1 ? .matvec : m <= smallBatchMaxRows ? .smallBatch : .sgemm
        xWt(x, rows: m, w, outFeatures: n, inFeatures: k, into: y, accumulate: accumulate, threads: threads,
            kernel: kernel)
    }

    public enum Kernel: CaseIterable, Sendable {
        /// One x row at a time, four W rows per pass (any M; meant for M = 1).
        case matvec
        /// 4 × 4 register blocks (any M; meant for small M).
        case smallBatch
        /// OpenBLAS single-threaded sgemm per block of outputs (any M; meant for M > 16).
        case sgemm
    }

    /// The same product with an explicit kernel choice (tests and measurements).
    public static func xWt(_ x: UnsafePointer<Float>, rows m: Int, _ w: UnsafePointer<Float>, outFeatures n: Int,
                           inFeatures k: Int, into y: UnsafeMutablePointer<Float>, accumulate: Bool = false,
                           threads: Int, kernel: Kernel) {
        guard m > 0, n > 0 else { return }
        if k == 0 {
            if !accumulate {
                for r in 0 ..< m { (y + r * n).update(repeating: 0, count: n) }
            }
            return
        }
        // Below ~64k multiply-adds per block the thread hand-off costs more than it saves.
        let parts = m * n * k < 1 << 16 ? 1 : threads
        Parallel.forRanges(total: n, parts: parts, alignment: 16, threads: threads) { r in
            let wr = w + r.lowerBound * k, yr = y + r.lowerBound
            switch kernel {
            case .matvec:
                for row in 0 ..< m {
                    matvec(x + row * k, wr, rows: r.count, k: k, into: yr + row * n, accumulate: accumulate)
                }
            case .smallBatch:
                SmallBatchMatMul.compute(x, rows: m, wr, rows: r.count, k: k, into: yr, ldy: n, accumulate: accumulate)
            case .sgemm:
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(r.count), Int32(k),
                            1, x, Int32(k), wr, Int32(k), accumulate ? 1 : 0, yr, Int32(n))
            }
        }
    }

    /// `y[i] (+)= Σ_j w[i, j] · x[j]` for `rows` rows of length `k`: four rows at a time share each load of x.
    @inline(__always)
    static func matvec(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, rows: Int, k: Int,
                       into y: UnsafeMutablePointer<Float>, accumulate: Bool) {
        let k16 = k & ~15
        var i = 0
        while i + 4 <= rows {
            let w0 = w + i * k, w1 = w0 + k, w2 = w1 + k, w3 = w2 + k
            var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
            var j = 0
            while j < k16 {
                let xv = load16(x + j)
                a0.addProduct(load16(w0 + j), xv)
                a1.addProduct(load16(w1 + j), xv)
                a2.addProduct(load16(w2 + j), xv)
                a3.addProduct(load16(w3 + j), xv)
                j += 16
            }
            var s0 = a0.laneSum(), s1 = a1.laneSum(), s2 = a2.laneSum(), s3 = a3.laneSum()
            while j < k {
                s0 += w0[j] * x[j]; s1 += w1[j] * x[j]; s2 += w2[j] * x[j]; s3 += w3[j] * x[j]
                j += 1
            }
            if accumulate {
                y[i] += s0; y[i + 1] += s1; y[i + 2] += s2; y[i + 3] += s3
            } else {
                y[i] = s0; y[i + 1] = s1; y[i + 2] = s2; y[i + 3] = s3
            }
            i += 4
        }
        while i < rows {
            let s = dot(x, w + i * k, count: k)
            y[i] = accumulate ? y[i] + s : s
            i += 1
        }
    }
}

/// Library-wide OpenBLAS settings.
public enum BLAS {
    /// Makes every OpenBLAS call single-threaded (the engine parallelises around BLAS instead).
    public static func useSingleThread() {
        openblas_set_num_threads(1)
    }
}

@inline(__always)
public func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

@inline(__always)
public func store16(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}

/// `Σ a[i]·b[i]` in fp32 with SIMD16 partial sums.
@inline(__always)
public func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
    var acc = SIMD16<Float>()
    var i = 0
    while i + 16 <= count {
        acc.addProduct(load16(a + i), load16(b + i))
        i += 16
    }
    var s = acc.laneSum()
    while i < count {
        s += a[i] * b[i]
        i += 1
    }
    return s
}

extension SIMD16 where Scalar == Float {
    @inline(__always)
    mutating func addProduct(_ a: SIMD16<Float>, _ b: SIMD16<Float>) {
        self = self.addingProduct(a, b)
    }

    /// Sum of the lanes by halving (the generic `sum()` is not always inlined).
    @inline(__always)
    public func laneSum() -> Float {
        let h8 = lowHalf + highHalf
        let h4 = h8.lowHalf + h8.highHalf
        let h2 = h4.lowHalf + h4.highHalf
        return h2[0] + h2[1]
    }
}
