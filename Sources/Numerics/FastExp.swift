/// exp(x) for x <= 0 on 16 lanes, in pure Float arithmetic (no libm, so identical on every machine):
/// n = round(x · log₂e) (by adding and subtracting 1.5 · 2²³, which rounds to nearest even), r = x − n·ln2 (ln2 split
/// in a high and a low part), exp(r) by the Cephes `expf` polynomial (relative error about 1e-7 on |r| <= ln2/2),
/// times 2ⁿ built from the exponent bits. x < −87.3 (including −∞) gives exactly 0, as fp32 underflow would;
/// x > 0 is not supported (callers pass x − max). Used by the LM head's log-sum-exp and softmax and by the sampler.
public enum FastExp {
    @inlinable @inline(__always)
    public static func nonPositive(_ x: SIMD16<Float>) -> SIMD16<Float> {
        let underflow = x .< -87.3
        let clamped = x.replacing(with: -87.3, where: underflow)
        let magic: Float = 12_582_912 // 1.5 · 2²³: adding it leaves round(v) in the low mantissa bits
        let shifted = clamped * 1.442_695_04 + magic
        let n = shifted - magic
        var r = clamped - n * 0.693_359_375
        r = r - n * -2.121_944_4e-4
        var p = SIMD16<Float>(repeating: 1.987_569_15e-4)
        p = p * r + 1.398_199_95e-3
        p = p * r + 8.333_451_9e-3
        p = p * r + 4.166_579_59e-2
        p = p * r + 0.166_666_655
        p = p * r + 0.500_000_01
        p = p * r * r + r + 1
        let integer = unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- 0x4B40_0000 // n as an integer
        let scale = unsafeBitCast((integer &+ 127) &<< 23, to: SIMD16<Float>.self)
        return (p * scale).replacing(with: 0, where: underflow)
    }

    /// The logistic function σ(g) = 1 / (1 + e^(−g)) on 16 lanes, from `nonPositive`: with e = e^(−|g|),
    /// σ(g) = 1 / (1 + e) for g ≥ 0 and e / (1 + e) for g < 0 (never overflows; σ(g) = 0 exactly for g < −87.3).
    /// Relative error about 1e-7. Used by the SwiGLU middle and its backward, so both see the same σ.
    @inlinable @inline(__always)
    public static func sigmoid(_ g: SIMD16<Float>) -> SIMD16<Float> {
        let negative = g .< 0
        let e = nonPositive(g.replacing(with: -g, where: .!negative))
        let numerator = SIMD16<Float>(repeating: 1).replacing(with: e, where: negative)
        return numerator / (1 + e)
    }
}
