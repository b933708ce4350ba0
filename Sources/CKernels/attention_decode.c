// Decode-time attention of one query row against one kv head's cached keys and values, for the group of query
// heads that share that kv head. AVX-512F intrinsics, enabled per function; callers check ck_avx512_supported().
#include "CKernels.h"
#include <immintrin.h>

#define CK_AVX512F __attribute__((target("avx512f,avx512dq")))

// Lane sums of four vectors: [Σa, Σb, Σc, Σd].
CK_AVX512F static inline __m128 sum4(__m512 a, __m512 b, __m512 c, __m512 d) {
    // Per 128-bit lane: [a0+a2, b0+b2, a1+a3, b1+b3] and the same for c, d.
    __m512 ab = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
    __m512 cd = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
    // Per 128-bit lane: [Σa, Σb, Σc, Σd] of that lane's four elements.
    __m512 abcd = _mm512_add_ps(_mm512_shuffle_ps(ab, cd, _MM_SHUFFLE(1, 0, 1, 0)),
                                _mm512_shuffle_ps(ab, cd, _MM_SHUFFLE(3, 2, 3, 2)));
    __m256 half = _mm256_add_ps(_mm512_castps512_ps256(abcd), _mm512_extractf32x8_ps(abcd, 1));
    return _mm_add_ps(_mm256_castps256_ps128(half), _mm256_extractf128_ps(half, 1));
}

CK_AVX512F void ck_attention_decode_scores(const float *q, int heads, int d, const float *keys, long stride,
                                           int length, float scale, float *scores) {
    const int chunks = d / 16;
    for (int i = 0; i < heads; i++) {
        const float *qi = q + (long)i * d;
        float *si = scores + (long)i * length;
        int j = 0;
        for (; j + 4 <= length; j += 4) {
            const float *k0 = keys + (long)j * stride;
            __m512 a0 = _mm512_setzero_ps(), a1 = _mm512_setzero_ps();
            __m512 a2 = _mm512_setzero_ps(), a3 = _mm512_setzero_ps();
            for (int c = 0; c < chunks; c++) {
                __m512 qc = _mm512_loadu_ps(qi + 16 * c);
                a0 = _mm512_fmadd_ps(qc, _mm512_loadu_ps(k0 + 16 * c), a0);
                a1 = _mm512_fmadd_ps(qc, _mm512_loadu_ps(k0 + stride + 16 * c), a1);
                a2 = _mm512_fmadd_ps(qc, _mm512_loadu_ps(k0 + 2 * stride + 16 * c), a2);
                a3 = _mm512_fmadd_ps(qc, _mm512_loadu_ps(k0 + 3 * stride + 16 * c), a3);
            }
            _mm_storeu_ps(si + j, _mm_mul_ps(sum4(a0, a1, a2, a3), _mm_set1_ps(scale)));
        }
        for (; j < length; j++) {
            const float *kj = keys + (long)j * stride;
            __m512 a = _mm512_setzero_ps();
            for (int c = 0; c < chunks; c++)
                a = _mm512_fmadd_ps(_mm512_loadu_ps(qi + 16 * c), _mm512_loadu_ps(kj + 16 * c), a);
            si[j] = _mm512_reduce_add_ps(a) * scale;
        }
    }
}

// Up to 8 heads at a time, two accumulators per head (even and odd positions) for independent FMA chains.
CK_AVX512F static void weighted_values_block(const float *p, long ldp, int heads, const float *values, long stride,
                                             int length, int d, float *out) {
    for (int c = 0; c < d / 16; c++) {
        __m512 even[8], odd[8];
        for (int i = 0; i < heads; i++) { even[i] = _mm512_setzero_ps(); odd[i] = _mm512_setzero_ps(); }
        const float *v = values + 16 * c;
        int j = 0;
        for (; j + 2 <= length; j += 2) {
            __m512 v0 = _mm512_loadu_ps(v + (long)j * stride);
            __m512 v1 = _mm512_loadu_ps(v + (long)(j + 1) * stride);
            for (int i = 0; i < heads; i++) {
                even[i] = _mm512_fmadd_ps(_mm512_set1_ps(p[i * ldp + j]), v0, even[i]);
                odd[i] = _mm512_fmadd_ps(_mm512_set1_ps(p[i * ldp + j + 1]), v1, odd[i]);
            }
        }
        if (j < length) {
            __m512 v0 = _mm512_loadu_ps(v + (long)j * stride);
            for (int i = 0; i < heads; i++) even[i] = _mm512_fmadd_ps(_mm512_set1_ps(p[i * ldp + j]), v0, even[i]);
        }
        for (int i = 0; i < heads; i++) _mm512_storeu_ps(out + (long)i * d + 16 * c, _mm512_add_ps(even[i], odd[i]));
    }
}

CK_AVX512F void ck_attention_decode_values(const float *p, int heads, const float *values, long stride, int length,
                                           int d, float *out) {
    for (int h0 = 0; h0 < heads; h0 += 8) {
        int n = heads - h0 < 8 ? heads - h0 : 8;
        weighted_values_block(p + (long)h0 * length, length, n, values, stride, length, d, out + (long)h0 * d);
    }
}
