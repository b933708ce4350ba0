/// `y[M, N] = x[M, K]·Wᵀ (+ y)` for very few rows of x (batched decode with M = 2 ... 4), `W` `[N, K]` row-major.
///
/// Dot-product form over a single sequential weight stream: the weight rows are read one after the other, and
/// each row is multiplied against up to four rows of x at once (two SIMD16 partial sums per x row, lanes summed
/// at the end of the row). Reading W rows one at a time measured 1.2-1.3x faster here than streaming four W rows
/// side by side (4 × 4 register blocks), which is what matters while M is too small for the compute to dominate.
/// More than four x rows are taken four at a time over chunks of W rows small enough (≤ 32 KiB) to be re-read
/// from L1; for M ≥ 5 `BroadcastMatMul` is faster.
enum SmallBatchMatMul {
    static func compute(_ x: UnsafePointer<Float>, rows m: Int, _ w: UnsafePointer<Float>, rows n: Int, k: Int,
                        into y: UnsafeMutablePointer<Float>, ldy: Int, accumulate: Bool) {
        if m <= 4 {
            rowsSequential(x, xRows: m, k: k, w, rows: n, y, ldy: ldy, accumulate: accumulate)
            return
        }
        let chunk = max(1, 8192 / k)
        for i in stride(from: 0, to: n, by: chunk) {
            let rows = min(chunk, n - i)
            for r in stride(from: 0, to: m, by: 4) {
                rowsSequential(x + r * k, xRows: min(4, m - r), k: k, w + i * k, rows: rows, y + r * ldy + i,
                               ldy: ldy, accumulate: accumulate)
            }
        }
    }

    /// `y[r, i] (+)= Σ_j x[r, j]·w[i, j]` for weight rows `i = 0 ..< n`, one after the other, and x rows
    /// `r = 0 ..< xRows` (1 ... 4) together.
    @inline(__always)
    static func rowsSequential(_ x: UnsafePointer<Float>, xRows: Int, k: Int, _ w: UnsafePointer<Float>, rows n: Int,
                               _ y: UnsafeMutablePointer<Float>, ldy: Int, accumulate: Bool) {
        // Rows past xRows alias the last real row: they are computed (cheaply, from L1) and never stored.
        let x0 = x, x1 = x + k * min(1, xRows - 1), x2 = x + k * min(2, xRows - 1), x3 = x + k * min(3, xRows - 1)
        let k32 = k & ~31
        for i in 0 ..< n {
            let wr = w + i * k
            var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
            var b0 = SIMD16<Float>(), b1 = SIMD16<Float>(), b2 = SIMD16<Float>(), b3 = SIMD16<Float>()
            var j = 0
            while j < k32 {
                let v = load16(wr + j), u = load16(wr + j + 16)
                a0.addProduct(load16(x0 + j), v); b0.addProduct(load16(x0 + j + 16), u)
                if xRows > 1 { a1.addProduct(load16(x1 + j), v); b1.addProduct(load16(x1 + j + 16), u) }
                if xRows > 2 { a2.addProduct(load16(x2 + j), v); b2.addProduct(load16(x2 + j + 16), u) }
                if xRows > 3 { a3.addProduct(load16(x3 + j), v); b3.addProduct(load16(x3 + j + 16), u) }
                j += 32
            }
            var s = SIMD4<Float>((a0 + b0).laneSum(), (a1 + b1).laneSum(), (a2 + b2).laneSum(), (a3 + b3).laneSum())
            while j < k {
                let v = wr[j]
                s[0] += x0[j] * v; s[1] += x1[j] * v; s[2] += x2[j] * v; s[3] += x3[j] * v
                j += 1
            }
            for r in 0 ..< xRows {
                let p = y + r * ldy + i
                p.pointee = accumulate ? p.pointee + s[r] : s[r]
            }
        }
    }
}
