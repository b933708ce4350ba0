#include "CKernels.h"

#include <immintrin.h>
#include <string.h>

// Products of few activation rows with block-quantized weights by integer dot products (AVX-512 VNNI vpdpwssd),
// without decoding the weights to floats. Math in CKernels.h (ck_quant_dot_rows).
#define CK_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,f16c")))

int ck_vnni_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")
        && __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("f16c");
}

static inline CK_VNNI float half_at(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

CK_VNNI void ck_quantize_rows_q16(const float *x, int m, int k, int16_t *xq, float *dx, float *cx16) {
    const int groups = k / 32;
    const __m512 sign = _mm512_set1_ps(-0.0f);
    for (int r = 0; r < m; r++) {
        for (int g = 0; g < groups; g++) {
            const float *src = x + (size_t)r * k + (size_t)g * 32;
            __m512 a = _mm512_loadu_ps(src), b = _mm512_loadu_ps(src + 16);
            float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_andnot_ps(sign, a), _mm512_andnot_ps(sign, b)));
            const size_t at = (size_t)r * groups + g;
            int16_t *dst = xq + (size_t)r * k + (size_t)g * 32;
            if (!(amax > 0)) {  // all zero (or NaN: the product is then meaningless anyway)
                memset(dst, 0, 64);
                dx[at] = 0;
                cx16[2 * at] = cx16[2 * at + 1] = 0;
                continue;
            }
            const float d = amax / 32767.0f;
            const __m512 inv = _mm512_set1_ps(32767.0f / amax);
            __m512i qa = _mm512_cvtps_epi32(_mm512_mul_ps(a, inv)), qb = _mm512_cvtps_epi32(_mm512_mul_ps(b, inv));
            _mm256_storeu_si256((__m256i *)dst, _mm512_cvtsepi32_epi16(qa));
            _mm256_storeu_si256((__m256i *)(dst + 16), _mm512_cvtsepi32_epi16(qb));
            dx[at] = d;
            cx16[2 * at] = d * (float)_mm512_reduce_add_epi32(qa);
            cx16[2 * at + 1] = d * (float)_mm512_reduce_add_epi32(qb);
        }
    }
}

/// 32 unsigned 4-bit values from 16 bytes: low nibbles (elements 0-15), then high nibbles (16-31).
static inline CK_VNNI __m256i nibbles32(const uint8_t *qs) {
    const __m128i q = _mm_loadu_si128((const __m128i *)qs), mask = _mm_set1_epi8(0x0F);
    return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), mask), _mm_and_si128(q, mask));
}

/// Up to 4 activation rows' running sums for one weight row.
typedef struct {
    __m512 acc[4];
    float offset[4];
} row_sums;

/// Adds group `g`'s contribution, w_j = s_lo·u_j + o_lo for j < 16 and s_hi·u_j + o_hi above (`u`: the 32 values
/// u_j as int16), to every activation row: Σ_j u_j·xq_j per 2-element lane (vpdpwssd, exact in int32) times the
/// lane's scale times dx, plus o·dx·Σ xq.
static inline CK_VNNI void add_group(row_sums *s, int m, __m512i u, int g, float s_lo, float s_hi, float o_lo,
                                     float o_hi, const int16_t *xq, int k, const float *dx, const float *cx16,
                                     int groups) {
    for (int i = 0; i < m; i++) {
        const __m512i xv = _mm512_loadu_si512((const void *)(xq + (size_t)i * k + (size_t)g * 32));
        const __m512i dot = _mm512_dpwssd_epi32(_mm512_setzero_si512(), u, xv);
        const float d = dx[(size_t)i * groups + g];
        const __m512 scale = _mm512_insertf32x8(_mm512_set1_ps(s_lo * d), _mm256_set1_ps(s_hi * d), 1);
        s->acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), scale, s->acc[i]);
        const float *c = cx16 + 2 * ((size_t)i * groups + g);
        s->offset[i] += o_lo * c[0] + o_hi * c[1];
    }
}

static inline CK_VNNI void add_uniform(row_sums *s, int m, __m512i u, int g, float scale, float offset,
                                       const int16_t *xq, int k, const float *dx, const float *cx16, int groups) {
    add_group(s, m, u, g, scale, scale, offset, offset, xq, k, dx, cx16, groups);
}

/// One weight row (`k` elements of `type` at `w`) against the m activation rows.
static inline CK_VNNI void dot_row(uint32_t type, const uint8_t *w, int k, row_sums *s, int m, const int16_t *xq,
                                   const float *dx, const float *cx16) {
    const int groups = k / 32;
    switch (type) {
        case 2: case 3: case 6: case 7: {  // Q4_0, Q4_1, Q5_0, Q5_1: 32-element blocks
            const int has_min = type == 3 || type == 7, has_qh = type == 6 || type == 7;
            const int size = type == 2 ? 18 : type == 3 ? 20 : type == 6 ? 22 : 24;
            for (int g = 0; g < groups; g++) {
                const uint8_t *blk = w + (size_t)g * size;
                const float d = half_at(blk);
                const uint8_t *next = blk + (has_min ? 4 : 2);
                __m256i u;
                if (has_qh) {
                    uint32_t qh;
                    memcpy(&qh, next, 4);
                    u = _mm256_or_si256(nibbles32(next + 4), _mm256_maskz_mov_epi8((__mmask32)qh, _mm256_set1_epi8(0x10)));
                } else {
                    u = nibbles32(next);
                }
                const float offset = has_min ? half_at(blk + 2) : (has_qh ? -16.0f : -8.0f) * d;
                add_uniform(s, m, _mm512_cvtepu8_epi16(u), g, d, offset, xq, k, dx, cx16, groups);
            }
            break;
        }
        case 8: {  // Q8_0: signed q, no offset
            for (int g = 0; g < groups; g++) {
                const uint8_t *blk = w + (size_t)g * 34;
                const __m512i u = _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(blk + 2)));
                add_uniform(s, m, u, g, half_at(blk), 0.0f, xq, k, dx, cx16, groups);
            }
            break;
        }
        case 12: {  // Q4_K: 256-element super-blocks, 8 sub-blocks of 32 with 6-bit scale and min
            for (int sb = 0; sb < k / 256; sb++) {
                const uint8_t *blk = w + (size_t)sb * 144;
                const float d = half_at(blk), dmin = half_at(blk + 2);
                const uint8_t *sc = blk + 4, *qs = blk + 16;
                for (int pair = 0; pair < 4; pair++) {
                    const __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * pair));
                    const __m256i mask = _mm256_set1_epi8(0x0F);
                    for (int half = 0; half < 2; half++) {
                        const int i = 2 * pair + half;
                        int scale, min;
                        if (i < 4) {
                            scale = sc[i] & 63;
                            min = sc[i + 4] & 63;
                        } else {
                            scale = (sc[i + 4] & 0x0F) | ((sc[i - 4] >> 6) << 4);
                            min = (sc[i + 4] >> 4) | ((sc[i] >> 6) << 4);
                        }
                        const __m256i u = half ? _mm256_and_si256(_mm256_srli_epi16(q, 4), mask) : _mm256_and_si256(q, mask);
                        add_uniform(s, m, _mm512_cvtepu8_epi16(u), sb * 8 + i, d * (float)scale, -(dmin * (float)min), xq, k, dx, cx16, groups);
                    }
                }
            }
            break;
        }
        case 14: {  // Q6_K: 256-element super-blocks, 16 sub-blocks of 16 with int8 scales; q − 32
            for (int sb = 0; sb < k / 256; sb++) {
                const uint8_t *blk = w + (size_t)sb * 210;
                const float d = half_at(blk + 208);
                const int8_t *scales = (const int8_t *)(blk + 192);
                for (int h = 0; h < 2; h++) {
                    const __m256i l0 = _mm256_loadu_si256((const __m256i *)(blk + 64 * h));
                    const __m256i l1 = _mm256_loadu_si256((const __m256i *)(blk + 64 * h + 32));
                    const __m256i hb = _mm256_loadu_si256((const __m256i *)(blk + 128 + 32 * h));
                    const __m256i mask = _mm256_set1_epi8(0x0F), three = _mm256_set1_epi8(3);
                    for (int kq = 0; kq < 4; kq++) {
                        __m256i low = kq == 0 ? _mm256_and_si256(l0, mask)
                                    : kq == 1 ? _mm256_and_si256(l1, mask)
                                    : kq == 2 ? _mm256_and_si256(_mm256_srli_epi16(l0, 4), mask)
                                              : _mm256_and_si256(_mm256_srli_epi16(l1, 4), mask);
                        __m256i high = _mm256_and_si256(_mm256_srli_epi16(hb, 2 * kq), three);
                        const __m256i u = _mm256_or_si256(low, _mm256_slli_epi16(high, 4));
                        const float s_lo = d * (float)scales[8 * h + 2 * kq], s_hi = d * (float)scales[8 * h + 2 * kq + 1];
                        add_group(s, m, _mm512_cvtepu8_epi16(u), sb * 8 + 4 * h + kq, s_lo, s_hi, -32.0f * s_lo, -32.0f * s_hi, xq, k, dx,
                                  cx16, groups);
                    }
                }
            }
            break;
        }
    }
}

int ck_quant_dot_supported(uint32_t type) {
    return type == 2 || type == 3 || type == 6 || type == 7 || type == 8 || type == 12 || type == 14;
}

CK_VNNI void ck_quant_dot_rows(uint32_t type, const uint8_t *base, size_t row_bytes, const int32_t *order,
                               int row_begin, int row_end, int k, const int16_t *xq, const float *dx,
                               const float *cx16, int m, float *y, int ldy, int accumulate) {
    for (int o = row_begin; o < row_end; o++) {
        row_sums s;
        for (int i = 0; i < 4; i++) {
            s.acc[i] = _mm512_setzero_ps();
            s.offset[i] = 0;
        }
        const uint8_t *w = base + (size_t)(order ? order[o] : o) * row_bytes;
        switch (m) {  // constant m per call site, so the row loop in add_group unrolls
            case 1: dot_row(type, w, k, &s, 1, xq, dx, cx16); break;
            case 2: dot_row(type, w, k, &s, 2, xq, dx, cx16); break;
            case 3: dot_row(type, w, k, &s, 3, xq, dx, cx16); break;
            default: dot_row(type, w, k, &s, 4, xq, dx, cx16); break;
        }
        for (int i = 0; i < m; i++) {
            const float value = _mm512_reduce_add_ps(s.acc[i]) + s.offset[i];
            float *out = y + (size_t)i * ldy + o;
            *out = accumulate ? *out + value : value;
        }
    }
}
