// Decode-time attention of one query row against one kv head's cached keys and values, for the group of query
// heads that share that kv head. AVX-512F intrinsics, enabled per function; callers check ck_avx512_supported().
#include "CKernels.h"
#include <immintrin.h>

#define CK_AVX512F __attribute__((target("avx512f,avx512dq")))

// The lane sum of `v` in the order of Numerics' `SIMD16.laneSum` (halves: lanes i + i+8, then i + i+4, then
// i + i+2, then 0 + 1), so these scores equal `dot(q, k) * scale` of the portable path bit for bit.
CK_AVX512F static inline float lane_sum(__m512 v) {
    __m256 h8 = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    __m128 h4 = _mm_add_ps(_mm256_castps256_ps128(h8), _mm256_extractf128_ps(h8, 1));
    __m128 h2 = _mm_add_ps(h4, _mm_movehl_ps(h4, h4));
    return _mm_cvtss_f32(_mm_add_ss(h2, _mm_shuffle_ps(h2, h2, 1)));
}

// 16 elements of a cached row at `offset` elements from `base`, as fp32: fp32 caches load directly, fp16 caches
// widen exactly (vcvtph2ps).
CK_AVX512F static inline __attribute__((always_inline)) __m512 load_row_chunk(const void *base, long offset,
                                                                             const int half) {
    if (half) return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)base + offset)));
    return _mm512_loadu_ps((const float *)base + offset);
}

// The lane sums of 16 vectors at once: lane j of the result is lane_sum(a[j]), bit for bit. The same pairwise tree
// (lanes i + i+8, then + 4, + 2, + 1) run on all 16 together by shuffles, since each addition pairs the same two
// partial sums as lane_sum does (addition is commutative in IEEE arithmetic, so operand order does not matter).
CK_AVX512F static inline __m512 lane_sums16(const __m512 *a) {
    __m512 h8[8], h4[4], h2[2];
    // h8[i]: lanes 0-7 hold a[2i]'s lanes i + i+8, lanes 8-15 a[2i+1]'s.
    for (int i = 0; i < 8; i++)
        h8[i] = _mm512_add_ps(_mm512_shuffle_f32x4(a[2 * i], a[2 * i + 1], 0x44),
                              _mm512_shuffle_f32x4(a[2 * i], a[2 * i + 1], 0xEE));
    // h4[i]: 128-bit block b holds a[4i+b]'s four partial sums (lanes i + i+4 of its h8).
    for (int i = 0; i < 4; i++)
        h4[i] = _mm512_add_ps(_mm512_shuffle_f32x4(h8[2 * i], h8[2 * i + 1], 0x88),
                              _mm512_shuffle_f32x4(h8[2 * i], h8[2 * i + 1], 0xDD));
    // h2[i]: block b holds a[8i+b]'s two partial sums, then a[8i+4+b]'s.
    for (int i = 0; i < 2; i++)
        h2[i] = _mm512_add_ps(_mm512_shuffle_ps(h4[2 * i], h4[2 * i + 1], 0x44),
                              _mm512_shuffle_ps(h4[2 * i], h4[2 * i + 1], 0xEE));
    // Lane 4b+k now holds the sum of a[b+4k]; the permutation puts a[j]'s at lane j.
    __m512 sums = _mm512_add_ps(_mm512_shuffle_ps(h2[0], h2[1], 0x88), _mm512_shuffle_ps(h2[0], h2[1], 0xDD));
    const __m512i order = _mm512_set_epi32(15, 11, 7, 3, 14, 10, 6, 2, 13, 9, 5, 1, 12, 8, 4, 0);
    return _mm512_permutexvar_ps(order, sums);
}

// One FMA chain per key over the chunks of d (the portable `dot`'s order); 16 keys at a time, their lane sums
// together (lane_sums16), every head on one block of keys before the next block (so each key row comes from memory
// once and from L1 for the other heads); the remaining keys one at a time. Inlined with a constant `chunks`.
CK_AVX512F static inline __attribute__((always_inline)) void scores_block(
    const float *q, int heads, const int chunks, const void *keys, const int half, long stride, int length,
    float scale, float *scores) {
    const int d = 16 * chunks;
    const __m512 vscale = _mm512_set1_ps(scale);
    const int whole = length - length % 16;
    float widened[16 * d];  // an fp16 cache's block of 16 keys, widened once for all the heads
    for (int j = 0; j < whole; j += 16) {
        const float *block = (const float *)keys + (long)j * stride;
        long block_stride = stride;
        if (half) {
            for (int k = 0; k < 16; k++)
                for (int c = 0; c < chunks; c++)
                    _mm512_storeu_ps(widened + k * d + 16 * c, load_row_chunk(keys, (long)(j + k) * stride + 16 * c, 1));
            block = widened;
            block_stride = d;
        }
        for (int i = 0; i < heads; i++) {
            const float *qi = q + (long)i * d;
            __m512 a[16];
            for (int k = 0; k < 16; k++) {
                const float *kr = block + k * block_stride;
                __m512 acc = _mm512_setzero_ps();
                for (int c = 0; c < chunks; c++)
                    acc = _mm512_fmadd_ps(_mm512_loadu_ps(qi + 16 * c), _mm512_loadu_ps(kr + 16 * c), acc);
                a[k] = acc;
            }
            _mm512_storeu_ps(scores + (long)i * length + j, _mm512_mul_ps(lane_sums16(a), vscale));
        }
    }
    for (int i = 0; i < heads; i++) {
        const float *qi = q + (long)i * d;
        float *si = scores + (long)i * length;
        for (int j = whole; j < length; j++) {
            const long row = (long)j * stride;
            __m512 a = _mm512_setzero_ps();
            for (int c = 0; c < chunks; c++)
                a = _mm512_fmadd_ps(_mm512_loadu_ps(qi + 16 * c), load_row_chunk(keys, row + 16 * c, half), a);
            si[j] = lane_sum(a) * scale;
        }
    }
}

CK_AVX512F static void scores_any(const float *q, int heads, int chunks, const void *keys, int half, long stride,
                                  int length, float scale, float *scores) {
    if (half) scores_block(q, heads, chunks, keys, 1, stride, length, scale, scores);
    else scores_block(q, heads, chunks, keys, 0, stride, length, scale, scores);
}

// The common head sizes with their shape fixed at compile time, any other through the generic copy.
CK_AVX512F static inline __attribute__((always_inline)) void scores(const float *q, int heads, int d,
                                                                    const void *keys, const int half, long stride,
                                                                    int length, float scale, float *out) {
    switch (d / 16) {
    case 4: scores_block(q, heads, 4, keys, half, stride, length, scale, out); return;
    case 8: scores_block(q, heads, 8, keys, half, stride, length, scale, out); return;
    default: scores_any(q, heads, d / 16, keys, half, stride, length, scale, out);
    }
}

CK_AVX512F void ck_attention_decode_scores(const float *q, int heads, int d, const float *keys, long stride,
                                           int length, float scale, float *out) {
    scores(q, heads, d, keys, 0, stride, length, scale, out);
}

CK_AVX512F void ck_attention_decode_scores_f16(const float *q, int heads, int d, const uint16_t *keys, long stride,
                                                int length, float scale, float *out) {
    scores(q, heads, d, keys, 1, stride, length, scale, out);
}

// Heads in blocks whose outputs fit in 16 registers; each output element accumulates out = fma(p[i][j], v[j], out)
// for j = 0, 1, 2, ... in order (the portable `axpy` loop's arithmetic, bit for bit). Inlined with constant `heads`
// and `chunks` (below) the accumulators stay in registers; with run-time values they live on the stack.
CK_AVX512F static inline __attribute__((always_inline)) void weighted_values_block(
    const float *p, long ldp, const int heads, const void *values, const int half, long stride, int length,
    const int chunks, float *out, long ldo) {
    __m512 acc[16];
    for (int t = 0; t < heads * chunks; t++) acc[t] = _mm512_setzero_ps();
    for (int j = 0; j < length; j++) {
        const long row = (long)j * stride;
        for (int c = 0; c < chunks; c++) {
            __m512 vc = load_row_chunk(values, row + 16 * c, half);
            for (int i = 0; i < heads; i++)
                acc[i * chunks + c] = _mm512_fmadd_ps(_mm512_set1_ps(p[i * ldp + j]), vc, acc[i * chunks + c]);
        }
    }
    for (int i = 0; i < heads; i++)
        for (int c = 0; c < chunks; c++) _mm512_storeu_ps(out + (long)i * ldo + 16 * c, acc[i * chunks + c]);
}

CK_AVX512F static void weighted_values_any(const float *p, long ldp, int heads, const void *values, int half,
                                           long stride, int length, int chunks, float *out, long ldo) {
    if (half) weighted_values_block(p, ldp, heads, values, 1, stride, length, chunks, out, ldo);
    else weighted_values_block(p, ldp, heads, values, 0, stride, length, chunks, out, ldo);
}

// The block with its shape fixed at compile time for the common head sizes (d = 64: up to 4 heads; d = 128: up to
// 2), any other shape through the generic copy.
CK_AVX512F static inline __attribute__((always_inline)) void weighted_values(
    const float *p, long ldp, int heads, const void *values, const int half, long stride, int length, int chunks,
    float *out, long ldo) {
#define CK_WV(H, C) weighted_values_block(p, ldp, H, values, half, stride, length, C, out, ldo)
    if (chunks == 4) {
        switch (heads) {
        case 1: CK_WV(1, 4); return;
        case 2: CK_WV(2, 4); return;
        case 3: CK_WV(3, 4); return;
        case 4: CK_WV(4, 4); return;
        }
    } else if (chunks == 8) {
        switch (heads) {
        case 1: CK_WV(1, 8); return;
        case 2: CK_WV(2, 8); return;
        }
    }
#undef CK_WV
    weighted_values_any(p, ldp, heads, values, half, stride, length, chunks, out, ldo);
}

CK_AVX512F static inline __attribute__((always_inline)) void decode_values(
    const float *p, int heads, const void *values, const int half, long stride, int length, int d, float *out) {
    const int chunks = d / 16;
    const long element = half ? 2 : 4;
    if (chunks > 16) {  // very wide heads: 16 columns at a time
        for (int c0 = 0; c0 < chunks; c0 += 16) {
            int n = chunks - c0 < 16 ? chunks - c0 : 16;
            for (int i = 0; i < heads; i++)
                weighted_values(p + (long)i * length, length, 1, (const char *)values + 16 * c0 * element, half,
                                stride, length, n, out + (long)i * d + 16 * c0, d);
        }
        return;
    }
    const int block = 16 / chunks;
    for (int h0 = 0; h0 < heads; h0 += block) {
        int n = heads - h0 < block ? heads - h0 : block;
        weighted_values(p + (long)h0 * length, length, n, values, half, stride, length, chunks, out + (long)h0 * d,
                        d);
    }
}

CK_AVX512F void ck_attention_decode_values(const float *p, int heads, const float *values, long stride, int length,
                                           int d, float *out) {
    decode_values(p, heads, values, 0, stride, length, d, out);
}

CK_AVX512F void ck_attention_decode_values_f16(const float *p, int heads, const uint16_t *values, long stride,
                                                int length, int d, float *out) {
    decode_values(p, heads, values, 1, stride, length, d, out);
}
