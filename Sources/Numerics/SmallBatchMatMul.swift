/// `y[M, N] = x[M, K]·Wᵀ (+ y)` for a few rows of x (batched decode), `W` `[N, K]` row-major.
///
/// Register-blocked 4 × 4: four rows of W against four rows of x with sixteen SIMD16 accumulators, so each
/// weight row is streamed from memory once per call and every load feeds two multiply-adds. Unlike sgemm, the
/// weights are not repacked on every call, which is what makes small-M GEMM slow.
enum SmallBatchMatMul {
    static func compute(_ x: UnsafePointer<Float>, rows m: Int, _ w: UnsafePointer<Float>, rows n: Int, k: Int,
                        into y: UnsafeMutablePointer<Float>, ldy: Int, accumulate: Bool) {
        var i = 0
        while i + 4 <= n {
            let w0 = w + i * k, w1 = w0 + k, w2 = w1 + k, w3 = w2 + k
            var r = 0
            while r + 4 <= m {
                block4x4(x + r * k, k: k, w0, w1, w2, w3, y + r * ldy + i, ldy: ldy, accumulate: accumulate)
                r += 4
            }
            while r < m {
                MatMul.matvec(x + r * k, w0, rows: 4, k: k, into: y + r * ldy + i, accumulate: accumulate)
                r += 1
            }
            i += 4
        }
        if i < n {
            for r in 0 ..< m {
                MatMul.matvec(x + r * k, w + i * k, rows: n - i, k: k, into: y + r * ldy + i, accumulate: accumulate)
            }
        }
    }

    @inline(__always)
    static func block4x4(_ x: UnsafePointer<Float>, k: Int, _ w0: UnsafePointer<Float>, _ w1: UnsafePointer<Float>,
                         _ w2: UnsafePointer<Float>, _ w3: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                         ldy: Int, accumulate: Bool) {
        let x0 = x, x1 = x + k, x2 = x1 + k, x3 = x2 + k
        var a00 = SIMD16<Float>(), a01 = SIMD16<Float>(), a02 = SIMD16<Float>(), a03 = SIMD16<Float>()
        var a10 = SIMD16<Float>(), a11 = SIMD16<Float>(), a12 = SIMD16<Float>(), a13 = SIMD16<Float>()
        var a20 = SIMD16<Float>(), a21 = SIMD16<Float>(), a22 = SIMD16<Float>(), a23 = SIMD16<Float>()
        var a30 = SIMD16<Float>(), a31 = SIMD16<Float>(), a32 = SIMD16<Float>(), a33 = SIMD16<Float>()
        let k16 = k & ~15
        var j = 0
        while j < k16 {
            let v0 = load16(w0 + j), v1 = load16(w1 + j), v2 = load16(w2 + j), v3 = load16(w3 + j)
            var u = load16(x0 + j)
            a00.addProduct(u, v0); a01.addProduct(u, v1); a02.addProduct(u, v2); a03.addProduct(u, v3)
            u = load16(x1 + j)
            a10.addProduct(u, v0); a11.addProduct(u, v1); a12.addProduct(u, v2); a13.addProduct(u, v3)
            u = load16(x2 + j)
            a20.addProduct(u, v0); a21.addProduct(u, v1); a22.addProduct(u, v2); a23.addProduct(u, v3)
            u = load16(x3 + j)
            a30.addProduct(u, v0); a31.addProduct(u, v1); a32.addProduct(u, v2); a33.addProduct(u, v3)
            j += 16
        }
        var s = SIMD16<Float>(a00.laneSum(), a01.laneSum(), a02.laneSum(), a03.laneSum(), a10.laneSum(), a11.laneSum(), a12.laneSum(), a13.laneSum(),
                              a20.laneSum(), a21.laneSum(), a22.laneSum(), a23.laneSum(), a30.laneSum(), a31.laneSum(), a32.laneSum(), a33.laneSum())
        if j < k {
            for r in 0 ..< 4 {
                for c in 0 ..< 4 {
                    var t: Float = 0
                    for jj in j ..< k { t += x[r * k + jj] * w0[c * k + jj] }
                    s[r * 4 + c] += t
                }
            }
        }
        for r in 0 ..< 4 {
            for c in 0 ..< 4 {
                let p = y + r * ldy + c
                p.pointee = accumulate ? p.pointee + s[r * 4 + c] : s[r * 4 + c]
            }
        }
    }
}
