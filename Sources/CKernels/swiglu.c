// The SwiGLU middle a = silu(g)·u and its backward, 16 lanes at a time with AVX-512F intrinsics (enabled per
// function; callers check ck_avx512_supported()). Every operation is the one Numerics' `FastExp.sigmoid` and
// `Kernels.portableSiluMul` / `Kernels.portableSiluMulBackward` perform, in the same order, with separate multiplies and adds (no
// fused multiply-add), so the results equal the portable Swift path bit for bit. The Swift compiler splits those
// SIMD16 expressions into 256-bit, 128-bit and scalar pieces; written here they run on whole 512-bit vectors.
#include "CKernels.h"
#include <immintrin.h>

#define CK_AVX512F __attribute__((target("avx512f,avx512dq")))

// e^x for x ≤ 0 (FastExp.nonPositive): x = n·ln2 + r, a degree-7 polynomial for e^r, scaled by 2^n; 0 below −87.3.
CK_AVX512F static inline __attribute__((always_inline)) __m512 exp_non_positive(__m512 x) {
    const __m512 lowest = _mm512_set1_ps(-87.3f);
    const __m512 magic = _mm512_set1_ps(12582912.0f);  // 1.5 · 2²³
    const __mmask16 underflow = _mm512_cmp_ps_mask(x, lowest, _CMP_LT_OQ);
    const __m512 clamped = _mm512_mask_blend_ps(underflow, x, lowest);
    const __m512 shifted = _mm512_add_ps(_mm512_mul_ps(clamped, _mm512_set1_ps(1.44269504f)), magic);
    const __m512 n = _mm512_sub_ps(shifted, magic);
    __m512 r = _mm512_sub_ps(clamped, _mm512_mul_ps(n, _mm512_set1_ps(0.693359375f)));
    r = _mm512_sub_ps(r, _mm512_mul_ps(n, _mm512_set1_ps(-2.1219444e-4f)));
    __m512 p = _mm512_set1_ps(1.98756915e-4f);
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(1.39819995e-3f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(8.3334519e-3f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(4.16657959e-2f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(0.166666655f));
    p = _mm512_add_ps(_mm512_mul_ps(p, r), _mm512_set1_ps(0.50000001f));
    p = _mm512_add_ps(_mm512_add_ps(_mm512_mul_ps(_mm512_mul_ps(p, r), r), r), _mm512_set1_ps(1.0f));
    const __m512i integer = _mm512_sub_epi32(_mm512_castps_si512(shifted), _mm512_set1_epi32(0x4B400000));
    const __m512 scale = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(integer, _mm512_set1_epi32(127)), 23));
    return _mm512_mask_blend_ps(underflow, _mm512_mul_ps(p, scale), _mm512_setzero_ps());
}

// σ(g) = 1 / (1 + e^(−g)) from e = e^(−|g|) (FastExp.sigmoid): 1 / (1 + e) for g ≥ 0, e / (1 + e) for g < 0.
CK_AVX512F static inline __attribute__((always_inline)) __m512 sigmoid(__m512 g) {
    const __mmask16 negative = _mm512_cmp_ps_mask(g, _mm512_setzero_ps(), _CMP_LT_OQ);
    // −g as Swift's SIMD prefix minus computes it: 0 − g (so −(+0) is +0).
    const __m512 minus_g = _mm512_sub_ps(_mm512_setzero_ps(), g);
    const __m512 e = exp_non_positive(_mm512_mask_blend_ps(negative, minus_g, g));
    const __m512 one = _mm512_set1_ps(1.0f);
    return _mm512_div_ps(_mm512_mask_blend_ps(negative, one, e), _mm512_add_ps(one, e));
}

static inline __mmask16 tail_mask(long remaining) {
    return remaining >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << remaining) - 1);
}

CK_AVX512F void ck_silu_mul(const float *gate, const float *up, long count, float *out) {
    for (long i = 0; i < count; i += 16) {
        const __mmask16 m = tail_mask(count - i);
        const __m512 g = _mm512_maskz_loadu_ps(m, gate + i);
        const __m512 u = _mm512_maskz_loadu_ps(m, up + i);
        _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(_mm512_mul_ps(g, sigmoid(g)), u));
    }
}

CK_AVX512F void ck_silu_mul_backward(float *gate, float *up, const float *output_gradient, long count) {
    const __m512 one = _mm512_set1_ps(1.0f);
    for (long i = 0; i < count; i += 16) {
        const __mmask16 m = tail_mask(count - i);
        const __m512 g = _mm512_maskz_loadu_ps(m, gate + i);
        const __m512 u = _mm512_maskz_loadu_ps(m, up + i);
        const __m512 da = _mm512_maskz_loadu_ps(m, output_gradient + i);
        const __m512 s = sigmoid(g);
        // dg = da·u·σ·(1 + g·(1 − σ)), du = da·g·σ, each product left to right as in the Swift expression.
        const __m512 dg = _mm512_mul_ps(_mm512_mul_ps(_mm512_mul_ps(da, u), s),
                                        _mm512_add_ps(one, _mm512_mul_ps(g, _mm512_sub_ps(one, s))));
        const __m512 du = _mm512_mul_ps(_mm512_mul_ps(da, g), s);
        _mm512_mask_storeu_ps(gate + i, m, dg);
        _mm512_mask_storeu_ps(up + i, m, du);
    }
}
