#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

import CKernels

/// Element-wise and row-wise kernels of the transformer forward pass. All work on contiguous fp32 rows.
public enum Kernels {
    /// RMSNorm of each of `rows` rows of length `n`: `y = x / sqrt(mean(x²) + eps) · weight` (Llama/Qwen2,
    /// statistics in fp32). `y` may alias `x`.
    public static func rmsNorm(_ x: UnsafePointer<Float>, weight: UnsafePointer<Float>, rows: Int, n: Int,
                               eps: Float, into y: UnsafeMutablePointer<Float>) {
        for r in 0 ..< rows {
            let xr = x + r * n, yr = y + r * n
            let meanSquare = dot(xr, xr, count: n) / Float(n)
            let scale = 1 / (meanSquare + eps).squareRoot()
            var i = 0
            while i + 16 <= n {
                store16(load16(xr + i) * scale * load16(weight + i), yr + i)
                i += 16
            }
            while i < n {
                yr[i] = xr[i] * scale * weight[i]
                i += 1
            }
        }
    }

    /// `out[i] = silu(gate[i]) · up[i]` with `silu(g) = g / (1 + e^(−g))` (the SwiGLU MLP's middle).
    /// `out` may alias either input.
    /// σ is `FastExp.sigmoid` (16 lanes at a time; the tail is padded, so every element sees the same σ). On CPUs
    /// with AVX-512 the C kernel `ck_silu_mul` runs the same operations on whole 512-bit vectors (Swift splits this
    /// SIMD16 code into narrower pieces, 3-4× slower); it equals `portableSiluMul` bit for bit.
    public static func siluMul(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count: Int,
                               into out: UnsafeMutablePointer<Float>) {
        if BlockDecode.isSupported { return ck_silu_mul(gate, up, count, out) }
        portableSiluMul(gate: gate, up: up, count: count, into: out)
    }

    /// `siluMul` in Swift SIMD16 (the fallback, and the reference the C kernel is tested against).
    public static func portableSiluMul(gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count: Int,
                                       into out: UnsafeMutablePointer<Float>) {
        var i = 0
        while i < count {
            let lanes = min(16, count - i)
            let g = load16(gate + i, count: lanes)
            store16(g * FastExp.sigmoid(g) * load16(up + i, count: lanes), out + i, count: lanes)
            i += 16
        }
    }

    /// The backward of `siluMul`, `a = silu(g)·u` with `silu(g) = g·σ(g)`: `dg = da·u·σ(g)·(1 + g·(1 − σ(g)))`,
    /// `du = da·silu(g)`. Overwrites `gate` with dg and `up` with du. σ is the forward's (`FastExp.sigmoid`); with
    /// AVX-512 the C kernel `ck_silu_mul_backward`, equal to `portableSiluMulBackward` bit for bit.
    public static func siluMulBackward(gate: UnsafeMutablePointer<Float>, up: UnsafeMutablePointer<Float>,
                                       outputGradient dA: UnsafePointer<Float>, count: Int) {
        if BlockDecode.isSupported { return ck_silu_mul_backward(gate, up, dA, count) }
        portableSiluMulBackward(gate: gate, up: up, outputGradient: dA, count: count)
    }

    /// `siluMulBackward` in Swift SIMD16 (the fallback, and the C kernel's reference).
    public static func portableSiluMulBackward(gate: UnsafeMutablePointer<Float>, up: UnsafeMutablePointer<Float>,
                                               outputGradient dA: UnsafePointer<Float>, count: Int) {
        var i = 0
        while i < count {
            let lanes = min(16, count - i)
            let g = load16(gate + i, count: lanes), u = load16(up + i, count: lanes), da = load16(dA + i, count: lanes)
            let sigma = FastExp.sigmoid(g)
            store16(da * u * sigma * (1 + g * (1 - sigma)), gate + i, count: lanes)
            store16(da * g * sigma, up + i, count: lanes)
            i += 16
        }
    }

    /// In-place softmax of `x[0 ..< n]`: `x_i ← e^(x_i − max) / Σ_j e^(x_j − max)`, the exponentials by
    /// `FastExp.nonPositive` 16 at a time (the tail padded with −∞, which contributes exactly 0), summed in fp32.
    public static func softmax(_ x: UnsafeMutablePointer<Float>, count n: Int) {
        guard n > 0 else { return }
        let m = maximum(x, count: n)
        var sum = SIMD16<Float>()
        var i = 0
        while i < n {
            let lanes = min(16, n - i)
            let e = FastExp.nonPositive(load16(x + i, count: lanes, fill: -.infinity) - m)
            store16(e, x + i, count: lanes)
            sum += e
            i += 16
        }
        scale(x, by: 1 / sum.sum(), count: n)
    }

    /// The largest of `x[0 ..< n]` (n > 0), 16 lanes at a time. With a NaN among them the result may or may not be
    /// NaN (softmax's output is NaN either way).
    @inline(__always)
    public static func maximum(_ x: UnsafePointer<Float>, count n: Int) -> Float {
        var m = SIMD16<Float>(repeating: -.infinity)
        var i = 0
        while i + 16 <= n {
            let v = load16(x + i)
            m.replace(with: v, where: v .> m)
            i += 16
        }
        // Halves down to one lane (SIMD's .max() and pointwiseMax compile to slow NaN-aware sequences here).
        var m8 = m.lowHalf
        m8.replace(with: m.highHalf, where: m.highHalf .> m8)
        var m4 = m8.lowHalf
        m4.replace(with: m8.highHalf, where: m8.highHalf .> m4)
        var m2 = m4.lowHalf
        m2.replace(with: m4.highHalf, where: m4.highHalf .> m2)
        var result = m2[1] > m2[0] ? m2[1] : m2[0]
        while i < n {
            if x[i] > result { result = x[i] }
            i += 1
        }
        return result
    }

    /// `x ← a·x` in place.
    public static func scale(_ x: UnsafeMutablePointer<Float>, by a: Float, count n: Int) {
        var i = 0
        while i + 16 <= n {
            store16(load16(x + i) * a, x + i)
            i += 16
        }
        while i < n {
            x[i] *= a
            i += 1
        }
    }

    /// `log Σ_i e^(x_i)`, computed as `max + log Σ e^(x_i − max)` with a Double sum. −∞ for n = 0.
    public static func logSumExp(_ x: UnsafePointer<Float>, count n: Int) -> Float {
        guard n > 0 else { return -.infinity }
        let m = maximum(x, count: n)
        guard m.isFinite else { return m }
        var s: Double = 0
        for i in 0 ..< n { s += Double(expf(x[i] - m)) }
        return m + Float(log(s))
    }

    /// The lowest index i with x[i] > −∞ and x[i] >= every other x[j] that is a number; −1 if there is none (NaN
    /// is never chosen). Each of 16 lanes keeps its first largest value and that value's index (strict >, so a
    /// later equal value does not replace it); then the lanes' largest value wins, the lowest index among equal
    /// ones; the last < 16 values, above every lane's indices, replace it only when strictly larger.
    public static func argmax(_ x: UnsafePointer<Float>, count n: Int) -> Int {
        var laneValue = SIMD16<Float>(repeating: -.infinity)
        var laneIndex = SIMD16<Int32>(repeating: -1)
        var index = SIMD16<Int32>(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
        var i = 0
        while i + 16 <= n {
            let v = UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self)
            let larger = v .> laneValue
            laneValue.replace(with: v, where: larger)
            laneIndex.replace(with: index, where: larger)
            index &+= 16
            i += 16
        }
        var best = -1
        var bestValue = -Float.infinity
        for lane in 0 ..< 16 where laneIndex[lane] >= 0 {
            let value = laneValue[lane], at = Int(laneIndex[lane])
            if value > bestValue || (value == bestValue && at < best) {
                best = at
                bestValue = value
            }
        }
        while i < n {
            if x[i] > bestValue {
                best = i
                bestValue = x[i]
            }
            i += 1
        }
        return best
    }

    /// `y[i] += x[i]`.
    public static func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 16 <= count {
            store16(load16(y + i) + load16(x + i), y + i)
            i += 16
        }
        while i < count {
            y[i] += x[i]
            i += 1
        }
    }

    /// `y[r, i] += bias[i]` for each of `rows` rows of length `n`.
    public static func addBias(_ bias: UnsafePointer<Float>, rows: Int, n: Int, into y: UnsafeMutablePointer<Float>) {
        for r in 0 ..< rows { add(bias, into: y + r * n, count: n) }
    }
}
