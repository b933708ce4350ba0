/// `y[M, N] = x[M, K]·Wᵀ (+ y)` in broadcast form, for a batch of x rows (batched decode), `W` `[N, K]` row-major.
///
/// x is first transposed into panels of 8, 16 or 32 rows: `xT[K, width]`, zero-padded, so one SIMD8 or one or two
/// SIMD16 per k hold `x[r0 ..< r0+width, k]`. Then each output column n keeps one accumulator per panel vector and
///
///     acc_n += broadcast(W[n, k]) · xT[k]        for k = 0 ..< K
///
/// Each weight is read once per panel, as a scalar folded into the multiply-add (or broadcast once for two), and
/// the weight rows of a block of 8 output columns are streamed side by side at an even rate: no horizontal sums,
/// no re-reading W from memory per block of x rows as in the dot-product form. With several panels (M > 16),
/// the block's 8·K weights are still in L1/L2 when the later panels read them.
enum BroadcastMatMul {
    /// Floats needed by `pack` for `m` rows of length `k`.
    static func packedCount(rows m: Int, k: Int) -> Int {
        guard let last = panels(rows: m).last else { return 0 }
        return (last.row0 + last.width) * k
    }

    /// Panels of x: `(first row, rows, width)`, widths 32, 16 or 8 chosen to waste few lanes: 32-row panels
    /// while more than 24 rows remain, then 16 and/or 8 (e.g. 20 rows → 16 + 8 of width 8 holding 4, 40 → 32 + 8).
    /// Only the last panel may hold fewer rows than its width, so panel data starts at float `row0 · k`.
    @inline(__always)
    static func panels(rows m: Int) -> [(row0: Int, rows: Int, width: Int)] {
        var list: [(row0: Int, rows: Int, width: Int)] = []
        var r0 = 0
        while r0 < m {
            let left = m - r0
            let width = left > 24 ? 32 : left > 8 ? 16 : 8
            list.append((r0, min(width, left), width))
            r0 += width
        }
        return list
    }

    /// `xT[p][j][i] = x[row0_p + i, j]` for every panel p (0 beyond the last row), panels back to back.
    static func pack(_ x: UnsafePointer<Float>, rows m: Int, k: Int, into packed: UnsafeMutablePointer<Float>) {
        for panel in panels(rows: m) {
            let dst = packed + panel.row0 * k, width = panel.width
            if panel.rows < width { dst.update(repeating: 0, count: k * width) }
            for i in 0 ..< panel.rows {
                let src = x + (panel.row0 + i) * k
                for j in 0 ..< k { dst[j * width + i] = src[j] }
            }
        }
    }

    /// Computes columns `0 ..< n` of `y` (leading dimension `ldy`) for the `m` rows packed by `pack`, `w`
    /// pointing at those columns' weight rows (`[n, k]`).
    static func compute(packed: UnsafePointer<Float>, rows m: Int, _ w: UnsafePointer<Float>, rows n: Int, k: Int,
                        into y: UnsafeMutablePointer<Float>, ldy: Int, accumulate: Bool) {
        let list = panels(rows: m)
        var c = 0
        while c + 8 <= n {
            for panel in list {
                let xt = packed + panel.row0 * k, yp = y + panel.row0 * ldy + c
                switch panel.width {
                case 32: panel32x8(xt, w + c * k, k: k, yp, ldy: ldy, rows: panel.rows, accumulate: accumulate)
                case 16: panel16x8(xt, w + c * k, k: k, yp, ldy: ldy, rows: panel.rows, accumulate: accumulate)
                default: panel8x8(xt, w + c * k, k: k, yp, ldy: ldy, rows: panel.rows, accumulate: accumulate)
                }
            }
            c += 8
        }
        while c < n {
            for panel in list {
                for lane0 in stride(from: 0, to: panel.rows, by: 8) {
                    panel8x1(packed + panel.row0 * k + lane0, stride: panel.width, w + c * k, k: k,
                             y + (panel.row0 + lane0) * ldy + c, ldy: ldy, rows: min(8, panel.rows - lane0),
                             accumulate: accumulate)
                }
            }
            c += 1
        }
    }

    /// Writes lane i of `acc` to `y[i · ldy]` (plus what is there if `accumulate`), for the first `rows` lanes.
    @inline(__always)
    static func storeColumn<V: SIMD>(_ acc: V, _ y: UnsafeMutablePointer<Float>, ldy: Int, rows: Int,
                                     accumulate: Bool) where V.Scalar == Float {
        if accumulate {
            for i in 0 ..< rows { y[i * ldy] += acc[i] }
        } else {
            for i in 0 ..< rows { y[i * ldy] = acc[i] }
        }
    }

    /// A 16-row panel against 8 weight rows; even and odd k go to separate accumulators (16 independent
    /// multiply-add chains hide the latency).
    @inline(__always)
    static func panel16x8(_ xt: UnsafePointer<Float>, _ w: UnsafePointer<Float>, k: Int, _ y: UnsafeMutablePointer<Float>,
                          ldy: Int, rows: Int, accumulate: Bool) {
        var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
        var a4 = SIMD16<Float>(), a5 = SIMD16<Float>(), a6 = SIMD16<Float>(), a7 = SIMD16<Float>()
        var b0 = SIMD16<Float>(), b1 = SIMD16<Float>(), b2 = SIMD16<Float>(), b3 = SIMD16<Float>()
        var b4 = SIMD16<Float>(), b5 = SIMD16<Float>(), b6 = SIMD16<Float>(), b7 = SIMD16<Float>()
        let w0 = w, w1 = w0 + k, w2 = w1 + k, w3 = w2 + k, w4 = w3 + k, w5 = w4 + k, w6 = w5 + k, w7 = w6 + k
        var j = 0
        while j + 2 <= k {
            let u = load16(xt + j * 16), v = load16(xt + j * 16 + 16)
            a0.addProduct(SIMD16(repeating: w0[j]), u)
            a1.addProduct(SIMD16(repeating: w1[j]), u)
            a2.addProduct(SIMD16(repeating: w2[j]), u)
            a3.addProduct(SIMD16(repeating: w3[j]), u)
            a4.addProduct(SIMD16(repeating: w4[j]), u)
            a5.addProduct(SIMD16(repeating: w5[j]), u)
            a6.addProduct(SIMD16(repeating: w6[j]), u)
            a7.addProduct(SIMD16(repeating: w7[j]), u)
            b0.addProduct(SIMD16(repeating: w0[j + 1]), v)
            b1.addProduct(SIMD16(repeating: w1[j + 1]), v)
            b2.addProduct(SIMD16(repeating: w2[j + 1]), v)
            b3.addProduct(SIMD16(repeating: w3[j + 1]), v)
            b4.addProduct(SIMD16(repeating: w4[j + 1]), v)
            b5.addProduct(SIMD16(repeating: w5[j + 1]), v)
            b6.addProduct(SIMD16(repeating: w6[j + 1]), v)
            b7.addProduct(SIMD16(repeating: w7[j + 1]), v)
            j += 2
        }
        if j < k {
            let u = load16(xt + j * 16)
            a0.addProduct(SIMD16(repeating: w0[j]), u)
            a1.addProduct(SIMD16(repeating: w1[j]), u)
            a2.addProduct(SIMD16(repeating: w2[j]), u)
            a3.addProduct(SIMD16(repeating: w3[j]), u)
            a4.addProduct(SIMD16(repeating: w4[j]), u)
            a5.addProduct(SIMD16(repeating: w5[j]), u)
            a6.addProduct(SIMD16(repeating: w6[j]), u)
            a7.addProduct(SIMD16(repeating: w7[j]), u)
        }
        storeColumn(a0 + b0, y, ldy: ldy, rows: rows, accumulate: accumulate)
        storeColumn(a1 + b1, y + 1, ldy: ldy, rows: rows, accumulate: accumulate)
        storeColumn(a2 + b2, y + 2, ldy: ldy, rows: rows, accumulate: accumulate)
        storeColumn(a3 + b3, y + 3, ldy: ldy, rows: rows, accumulate: accumulate)
        storeColumn(a4 + b4, y + 4, ldy: ldy, rows: rows, accumulate: accumulate)
        storeColumn(a5 + b5, y + 5, ldy: ldy, rows: rows, accumulate: accumulate)
        storeColumn(a6 + b6, y + 6, ldy: ldy, rows: rows, accumulate: accumulate)
        storeColumn(a7 + b7, y + 7, ldy: ldy, rows: rows, accumulate: accumulate)
    }

    /// A 32-row panel (two SIMD16 per k) against 8 weight rows: each broadcast weight feeds two multiply-adds.
    @inline(__always)
    static func panel32x8(_ xt: UnsafePointer<Float>, _ w: UnsafePointer<Float>, k: Int, _ y: UnsafeMutablePointer<Float>,
                          ldy: Int, rows: Int, accumulate: Bool) {
        var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
        var a4 = SIMD16<Float>(), a5 = SIMD16<Float>(), a6 = SIMD16<Float>(), a7 = SIMD16<Float>()
        var b0 = SIMD16<Float>(), b1 = SIMD16<Float>(), b2 = SIMD16<Float>(), b3 = SIMD16<Float>()
        var b4 = SIMD16<Float>(), b5 = SIMD16<Float>(), b6 = SIMD16<Float>(), b7 = SIMD16<Float>()
        let w0 = w, w1 = w0 + k, w2 = w1 + k, w3 = w2 + k, w4 = w3 + k, w5 = w4 + k, w6 = w5 + k, w7 = w6 + k
        for j in 0 ..< k {
            let u = load16(xt + j * 32), v = load16(xt + j * 32 + 16)
            var s = SIMD16<Float>(repeating: w0[j])
            a0.addProduct(s, u); b0.addProduct(s, v)
            s = SIMD16(repeating: w1[j])
            a1.addProduct(s, u); b1.addProduct(s, v)
            s = SIMD16(repeating: w2[j])
            a2.addProduct(s, u); b2.addProduct(s, v)
            s = SIMD16(repeating: w3[j])
            a3.addProduct(s, u); b3.addProduct(s, v)
            s = SIMD16(repeating: w4[j])
            a4.addProduct(s, u); b4.addProduct(s, v)
            s = SIMD16(repeating: w5[j])
            a5.addProduct(s, u); b5.addProduct(s, v)
            s = SIMD16(repeating: w6[j])
            a6.addProduct(s, u); b6.addProduct(s, v)
            s = SIMD16(repeating: w7[j])
            a7.addProduct(s, u); b7.addProduct(s, v)
        }
        let low = min(rows, 16), high = rows - low
        storeColumn(a0, y, ldy: ldy, rows: low, accumulate: accumulate)
        storeColumn(a1, y + 1, ldy: ldy, rows: low, accumulate: accumulate)
        storeColumn(a2, y + 2, ldy: ldy, rows: low, accumulate: accumulate)
        storeColumn(a3, y + 3, ldy: ldy, rows: low, accumulate: accumulate)
        storeColumn(a4, y + 4, ldy: ldy, rows: low, accumulate: accumulate)
        storeColumn(a5, y + 5, ldy: ldy, rows: low, accumulate: accumulate)
        storeColumn(a6, y + 6, ldy: ldy, rows: low, accumulate: accumulate)
        storeColumn(a7, y + 7, ldy: ldy, rows: low, accumulate: accumulate)
        let y16 = y + 16 * ldy
        storeColumn(b0, y16, ldy: ldy, rows: high, accumulate: accumulate)
        storeColumn(b1, y16 + 1, ldy: ldy, rows: high, accumulate: accumulate)
        storeColumn(b2, y16 + 2, ldy: ldy, rows: high, accumulate: accumulate)
        storeColumn(b3, y16 + 3, ldy: ldy, rows: high, accumulate: accumulate)
        storeColumn(b4, y16 + 4, ldy: ldy, rows: high, accumulate: accumulate)
        storeColumn(b5, y16 + 5, ldy: ldy, rows: high, accumulate: accumulate)
        storeColumn(b6, y16 + 6, ldy: ldy, rows: high, accumulate: accumulate)
        storeColumn(b7, y16 + 7, ldy: ldy, rows: high, accumulate: accumulate)
    }

    /// An 8-row panel (one SIMD8 per k) against 8 weight rows, even and odd k in separate accumulators. For
    /// M ≤ 8 this does half the multiply-add instructions of a 16-row panel (two SIMD8 multiply-adds issue per
    /// cycle where one SIMD16 does).
    @inline(__always)
    static func panel8x8(_ xt: UnsafePointer<Float>, _ w: UnsafePointer<Float>, k: Int, _ y: UnsafeMutablePointer<Float>,
                         ldy: Int, rows: Int, accumulate: Bool) {
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
        var a4 = SIMD8<Float>(), a5 = SIMD8<Float>(), a6 = SIMD8<Float>(), a7 = SIMD8<Float>()
        var b0 = SIMD8<Float>(), b1 = SIMD8<Float>(), b2 = SIMD8<Float>(), b3 = SIMD8<Float>()
        var b4 = SIMD8<Float>(), b5 = SIMD8<Float>(), b6 = SIMD8<Float>(), b7 = SIMD8<Float>()
        let w0 = w, w1 = w0 + k, w2 = w1 + k, w3 = w2 + k, w4 = w3 + k, w5 = w4 + k, w6 = w5 + k, w7 = w6 + k
        var j = 0
        while j + 2 <= k {
            let u = load8(xt + j * 8), v = load8(xt + j * 8 + 8)
            a0 = a0.addingProduct(SIMD8(repeating: w0[j]), u)
            a1 = a1.addingProduct(SIMD8(repeating: w1[j]), u)
            a2 = a2.addingProduct(SIMD8(repeating: w2[j]), u)
            a3 = a3.addingProduct(SIMD8(repeating: w3[j]), u)
            a4 = a4.addingProduct(SIMD8(repeating: w4[j]), u)
            a5 = a5.addingProduct(SIMD8(repeating: w5[j]), u)
            a6 = a6.addingProduct(SIMD8(repeating: w6[j]), u)
            a7 = a7.addingProduct(SIMD8(repeating: w7[j]), u)
            b0 = b0.addingProduct(SIMD8(repeating: w0[j + 1]), v)
            b1 = b1.addingProduct(SIMD8(repeating: w1[j + 1]), v)
            b2 = b2.addingProduct(SIMD8(repeating: w2[j + 1]), v)
            b3 = b3.addingProduct(SIMD8(repeating: w3[j + 1]), v)
            b4 = b4.addingProduct(SIMD8(repeating: w4[j + 1]), v)
            b5 = b5.addingProduct(SIMD8(repeating: w5[j + 1]), v)
            b6 = b6.addingProduct(SIMD8(repeating: w6[j + 1]), v)
            b7 = b7.addingProduct(SIMD8(repeating: w7[j + 1]), v)
            j += 2
        }
        if j < k {
            let u = load8(xt + j * 8)
            a0 = a0.addingProduct(SIMD8(repeating: w0[j]), u)
            a1 = a1.addingProduct(SIMD8(repeating: w1[j]), u)
            a2 = a2.addingProduct(SIMD8(repeating: w2[j]), u)
            a3 = a3.addingProduct(SIMD8(repeating: w3[j]), u)
            a4 = a4.addingProduct(SIMD8(repeating: w4[j]), u)
            a5 = a5.addingProduct(SIMD8(repeating: w5[j]), u)
            a6 = a6.addingProduct(SIMD8(repeating: w6[j]), u)
            a7 = a7.addingProduct(SIMD8(repeating: w7[j]), u)
        }
        storeColumn(a0 + b0, y, ldy: ldy, rows: rows, accumulate: accumulate)
        storeColumn(a1 + b1, y + 1, ldy: ldy, rows: rows, accumulate: accumulate)
        storeColumn(a2 + b2, y + 2, ldy: ldy, rows: rows, accumulate: accumulate)
        storeColumn(a3 + b3, y + 3, ldy: ldy, rows: rows, accumulate: accumulate)
        storeColumn(a4 + b4, y + 4, ldy: ldy, rows: rows, accumulate: accumulate)
        storeColumn(a5 + b5, y + 5, ldy: ldy, rows: rows, accumulate: accumulate)
        storeColumn(a6 + b6, y + 6, ldy: ldy, rows: rows, accumulate: accumulate)
        storeColumn(a7 + b7, y + 7, ldy: ldy, rows: rows, accumulate: accumulate)
    }

    /// 8 lanes of a panel (`stride` floats per k) against one weight row: the columns left after blocks of 8.
    @inline(__always)
    static func panel8x1(_ xt: UnsafePointer<Float>, stride: Int, _ w: UnsafePointer<Float>, k: Int,
                         _ y: UnsafeMutablePointer<Float>, ldy: Int, rows: Int, accumulate: Bool) {
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>()
        var j = 0
        while j + 2 <= k {
            a0 = a0.addingProduct(SIMD8(repeating: w[j]), load8(xt + j * stride))
            a1 = a1.addingProduct(SIMD8(repeating: w[j + 1]), load8(xt + (j + 1) * stride))
            j += 2
        }
        if j < k { a0 = a0.addingProduct(SIMD8(repeating: w[j]), load8(xt + j * stride)) }
        storeColumn(a0 + a1, y, ldy: ldy, rows: rows, accumulate: accumulate)
    }
}

@inline(__always)
func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}
