import CBLAS

/// Dense products in the layout of Hugging Face linear layers.
///
/// `y[M, N] = x[M, K] · Wᵀ + (accumulate ? y : 0)` where `W` is `[N, K]` row-major (HF `[out, in]`), every
/// matrix row-major and contiguous. The kernel depends on M (measured on the 0.5B model's decode shapes, see
/// BENCHMARKS.md): M = 1 a SIMD16 matrix–vector kernel (OpenBLAS sgemm with M = 1 is several times slower than a
/// plain matvec); M = 2 ... 4 `SmallBatchMatMul` (one sequential weight stream, several x rows per weight row);
/// M = 5 ... `broadcastMaxRows` `BroadcastMatMul` (x transposed into panels, weights broadcast, no repacking
/// of W); above that single-threaded `cblas_sgemm`. Either way the N output columns are split into `threads`
/// contiguous blocks computed concurrently, which is steadier on a shared machine than OpenBLAS's own threading
/// (call `BLAS.useSingleThread()` once).
public enum MatMul {
    /// Largest M for which the sequential-stream small-batch kernel is used.
    public static let smallBatchMaxRows = 4
    /// Largest M for which the broadcast-form kernel is used instead of sgemm (it was still ahead of
    /// single-threaded sgemm at M = 128; prefill keeps sgemm).
    public static let broadcastMaxRows = 64

    /// The kernel `xWt` uses for `m` rows of x.
    public static func kernel(rows m: Int) -> Kernel {
        m == 1 ? .matvec : m <= smallBatchMaxRows ? .smallBatch : m <= broadcastMaxRows ? .broadcast : .sgemm
    }

    public static func xWt(_ x: UnsafePointer<Float>, rows m: Int, _ w: UnsafePointer<Float>, outFeatures n: Int,
                           inFeatures k: Int, into y: UnsafeMutablePointer<Float>, accumulate: Bool = false,
                           threads: Int = 2) {
        let kernel = kernel(rows: m)
        xWt(x, rows: m, w, outFeatures: n, inFeatures: k, into: y, accumulate: accumulate, threads: threads,
            kernel: kernel)
    }

    public enum Kernel: CaseIterable, Sendable {
        /// One x row at a time, W streamed row after row (any M; meant for M = 1).
        case matvec
        /// Weight rows streamed one after the other, each against up to 4 x rows (any M; meant for M = 2 ... 4).
        case smallBatch
        /// OpenBLAS single-threaded sgemm per block of outputs (any M; meant for M > 64).
        case sgemm
        /// x transposed into panels of 8/16/32 rows, each weight broadcast against a panel (any M; meant for
        /// M = 5 ... 64).
        case broadcast
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
        // The broadcast kernel's transposed x is made once and shared by the threads.
        var packed: UnsafeMutablePointer<Float>?
        if kernel == .broadcast {
            packed = .allocate(capacity: BroadcastMatMul.packedCount(rows: m, k: k))
            BroadcastMatMul.pack(x, rows: m, k: k, into: packed!)
        }
        defer { packed?.deallocate() }
        Parallel.forRanges(total: n, parts: parts, alignment: 16, threads: threads) { r in
            let wr = w + r.lowerBound * k, yr = y + r.lowerBound
            switch kernel {
            case .matvec:
                for row in 0 ..< m {
                    matvec(x + row * k, wr, rows: r.count, k: k, into: yr + row * n, accumulate: accumulate)
                }
            case .smallBatch:
                SmallBatchMatMul.compute(x, rows: m, wr, rows: r.count, k: k, into: yr, ldy: n, accumulate: accumulate)
            case .broadcast:
                BroadcastMatMul.compute(packed: packed!, rows: m, wr, rows: r.count, k: k, into: yr, ldy: n,
                                        accumulate: accumulate)
            case .sgemm:
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(r.count), Int32(k),
                            1, x, Int32(k), wr, Int32(k), accumulate ? 1 : 0, yr, Int32(n))
            }
        }
    }

    /// `y[i] (+)= Σ_j w[i, j] · x[j]` for `rows` rows of length `k`, one row after the other so the weights are
    /// read as a single sequential stream (measured ~1.7x faster than interleaving four rows), four SIMD16
    /// partial sums per row.
    @inline(__always)
    static func matvec(_ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, rows: Int, k: Int,
                       into y: UnsafeMutablePointer<Float>, accumulate: Bool) {
        for i in 0 ..< rows {
            let wr = w + i * k
            var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
            var j = 0
            while j + 64 <= k {
                a0.addProduct(load16(wr + j), load16(x + j))
                a1.addProduct(load16(wr + j + 16), load16(x + j + 16))
                a2.addProduct(load16(wr + j + 32), load16(x + j + 32))
                a3.addProduct(load16(wr + j + 48), load16(x + j + 48))
                j += 64
            }
            while j + 16 <= k {
                a0.addProduct(load16(wr + j), load16(x + j))
                j += 16
            }
            var s = ((a0 + a1) + (a2 + a3)).laneSum()
            while j < k {
                s += wr[j] * x[j]
                j += 1
            }
            y[i] = accumulate ? y[i] + s : s
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

/// The `count` (1 ... 16) values at `p` in the first lanes, `fill` in the others: a row's last, partial chunk
/// goes through the same SIMD16 arithmetic as the full ones.
@inline(__always)
public func load16(_ p: UnsafePointer<Float>, count: Int, fill: Float = 0) -> SIMD16<Float> {
    if count == 16 { return load16(p) }
    var v = SIMD16<Float>(repeating: fill)
    for k in 0 ..< count { v[k] = p[k] }
    return v
}

/// Stores the first `count` (1 ... 16) lanes of `v` at `p`.
@inline(__always)
public func store16(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>, count: Int) {
    if count == 16 { return store16(v, p) }
    for k in 0 ..< count { p[k] = v[k] }
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
