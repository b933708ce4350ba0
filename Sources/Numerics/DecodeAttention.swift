import CKernels

/// The two products of decode-time attention for the query heads of one row that share one kv head (AVX-512,
/// `ck_attention_decode_scores` / `ck_attention_decode_values`), with `G` heads, head size `d`, `L` cached positions
/// and cached rows `stride` floats apart:
///
///     scores[i, j] = scale · q[i]·K[j]      q [G, d], K [L, d], scores [G, L]
///     out[i]       = Σ_j p[i, j] · V[j]     p [G, L], V [L, d], out [G, d] (overwritten)
///
/// Each cached value row is read once for all G heads; the keys once per head (a head's rows of one sequence are
/// contiguous in the cache and stay in L2 between heads). The arithmetic is the portable path's, bit for bit
/// (`dot(q[i], K[j]) * scale`; `out = fma(p[i, j], V[j], out)` for j in order): switching kernels changes no result.
public enum DecodeAttention {
    /// Whether the kernels run here (AVX-512 F and the head size a multiple of 16); callers fall back otherwise.
    public static func isSupported(headDim d: Int) -> Bool { BlockDecode.isSupported && d % 16 == 0 && d > 0 }

    @inline(__always)
    public static func scores(q: UnsafePointer<Float>, heads: Int, headDim d: Int, keys: UnsafePointer<Float>,
                              stride: Int, length: Int, scale: Float, into scores: UnsafeMutablePointer<Float>) {
        ck_attention_decode_scores(q, Int32(heads), Int32(d), keys, stride, Int32(length), scale, scores)
    }

    @inline(__always)
    public static func values(p: UnsafePointer<Float>, heads: Int, values: UnsafePointer<Float>, stride: Int,
                              length: Int, headDim d: Int, into out: UnsafeMutablePointer<Float>) {
        ck_attention_decode_values(p, Int32(heads), values, stride, Int32(length), Int32(d), out)
    }

    /// `scores` over an fp16 cache (`keys` the IEEE half bit patterns, rows `stride` elements apart): each element widened
    /// exactly to fp32, then the same arithmetic.
    @inline(__always)
    public static func scores(q: UnsafePointer<Float>, heads: Int, headDim d: Int, keys: UnsafePointer<UInt16>,
                              stride: Int, length: Int, scale: Float, into scores: UnsafeMutablePointer<Float>) {
        ck_attention_decode_scores_f16(q, Int32(heads), Int32(d), keys, stride, Int32(length), scale, scores)
    }

    /// `values` over an fp16 cache.
    @inline(__always)
    public static func values(p: UnsafePointer<Float>, heads: Int, values: UnsafePointer<UInt16>, stride: Int,
                              length: Int, headDim d: Int, into out: UnsafeMutablePointer<Float>) {
        ck_attention_decode_values_f16(p, Int32(heads), values, stride, Int32(length), Int32(d), out)
    }
}
