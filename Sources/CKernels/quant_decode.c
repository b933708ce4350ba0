#include "CKernels.h"

#include <immintrin.h>
#include <string.h>

// AVX-512 decoders of ggml block quantizations to fp32, bit-identical to ModelFiles' LegacyQuants/KQuants (the
// same fp32 operations in the same order; intrinsics are never contracted into fused multiply-adds).
#define CK_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,f16c")))

int ck_avx512_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")
        && __builtin_cpu_supports("f16c");
}

static inline CK_AVX512 float f16_at(const uint8_t *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return _cvtsh_ss(h);
}

/// 16 bytes → 16 int32 lanes (zero-extended).
static inline CK_AVX512 __m512i bytes16(const uint8_t *p) {
    return _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)p));
}

static inline CK_AVX512 __m512 to_float(__m512i v) { return _mm512_cvtepi32_ps(v); }

/// Fifth bits of a Q5 block: lanes j (low) and j + 16 (high) get bit j resp. j + 16 of qh, shifted to bit 4.
static inline CK_AVX512 void fifth_bits(uint32_t qh, __m512i *lo, __m512i *hi) {
    const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i one = _mm512_set1_epi32(1);
    const __m512i v = _mm512_set1_epi32((int)qh);
    *lo = _mm512_slli_epi32(_mm512_and_si512(_mm512_srlv_epi32(v, lane), one), 4);
    *hi = _mm512_slli_epi32(_mm512_and_si512(_mm512_srlv_epi32(v, _mm512_add_epi32(lane, _mm512_set1_epi32(16))), one), 4);
}

/// The 4- and 5-bit legacy blocks (layouts in LegacyQuants.swift): d, then m when `has_min`, then qh when
/// `has_qh`, then 16 bytes of nibbles; value d·(q − bias) without a min, d·q + m with one. Called with constant
/// flags, so each type gets its own specialised loop.
static inline CK_AVX512 void decode_nibbles(const uint8_t *src, size_t blocks, float *dst, const int type_size,
                                            const int has_min, const int has_qh, const int bias) {
    const __m512i low = _mm512_set1_epi32(0x0F), bias_v = _mm512_set1_epi32(bias);
    for (size_t b = 0; b < blocks; b++) {
        const uint8_t *blk = src + b * (size_t)type_size;
        const __m512 d = _mm512_set1_ps(f16_at(blk));
        const __m512 m = _mm512_set1_ps(has_min ? f16_at(blk + 2) : 0.0f);
        const uint8_t *next = blk + (has_min ? 4 : 2);
        __m512i hlo = _mm512_setzero_si512(), hhi = _mm512_setzero_si512();
        if (has_qh) {
            uint32_t qh;
            memcpy(&qh, next, 4);
            fifth_bits(qh, &hlo, &hhi);
            next += 4;
        }
        const __m512i q = bytes16(next);
        __m512i lo = _mm512_or_si512(_mm512_and_si512(q, low), hlo);
        __m512i hi = _mm512_or_si512(_mm512_srli_epi32(q, 4), hhi);
        if (has_min) {
            _mm512_storeu_ps(dst + b * 32, _mm512_add_ps(_mm512_mul_ps(d, to_float(lo)), m));
            _mm512_storeu_ps(dst + b * 32 + 16, _mm512_add_ps(_mm512_mul_ps(d, to_float(hi)), m));
        } else {
            _mm512_storeu_ps(dst + b * 32, _mm512_mul_ps(d, to_float(_mm512_sub_epi32(lo, bias_v))));
            _mm512_storeu_ps(dst + b * 32 + 16, _mm512_mul_ps(d, to_float(_mm512_sub_epi32(hi, bias_v))));
        }
    }
}

static CK_AVX512 void decode_q4_0(const uint8_t *src, size_t blocks, float *dst) { decode_nibbles(src, blocks, dst, 18, 0, 0, 8); }
static CK_AVX512 void decode_q4_1(const uint8_t *src, size_t blocks, float *dst) { decode_nibbles(src, blocks, dst, 20, 1, 0, 0); }
static CK_AVX512 void decode_q5_0(const uint8_t *src, size_t blocks, float *dst) { decode_nibbles(src, blocks, dst, 22, 0, 1, 16); }
static CK_AVX512 void decode_q5_1(const uint8_t *src, size_t blocks, float *dst) { decode_nibbles(src, blocks, dst, 24, 1, 1, 0); }

static CK_AVX512 void decode_q8_0(const uint8_t *src, size_t blocks, float *dst) {
    for (size_t b = 0; b < blocks; b++) {
        const uint8_t *blk = src + b * 34;
        const __m512 d = _mm512_set1_ps(f16_at(blk));
        __m512i q0 = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(blk + 2)));
        __m512i q1 = _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(blk + 18)));
        _mm512_storeu_ps(dst + b * 32, _mm512_mul_ps(to_float(q0), d));
        _mm512_storeu_ps(dst + b * 32 + 16, _mm512_mul_ps(to_float(q1), d));
    }
}

/// The 6-bit scale and min of sub-block i (0..<8) of a Q4_K/Q5_K block.
static inline void scale_min(const uint8_t *s, int i, float *sc, float *m) {
    if (i < 4) {
        *sc = (float)(s[i] & 63);
        *m = (float)(s[i + 4] & 63);
    } else {
        *sc = (float)((s[i + 4] & 0x0F) | ((s[i - 4] >> 6) << 4));
        *m = (float)((s[i + 4] >> 4) | ((s[i] >> 6) << 4));
    }
}

static CK_AVX512 void decode_q4_k(const uint8_t *src, size_t blocks, float *dst) {
    const __m512i low = _mm512_set1_epi32(0x0F);
    for (size_t b = 0; b < blocks; b++) {
        const uint8_t *blk = src + b * 144;
        float *out = dst + b * 256;
        const float d = f16_at(blk), dmin = f16_at(blk + 2);
        const uint8_t *scales = blk + 4, *qs = blk + 16;
        for (int pair = 0; pair < 4; pair++) {
            float sc0, m0, sc1, m1;
            scale_min(scales, 2 * pair, &sc0, &m0);
            scale_min(scales, 2 * pair + 1, &sc1, &m1);
            const __m512 d0 = _mm512_set1_ps(d * sc0), dm0 = _mm512_set1_ps(dmin * m0);
            const __m512 d1 = _mm512_set1_ps(d * sc1), dm1 = _mm512_set1_ps(dmin * m1);
            for (int half = 0; half < 2; half++) {
                const __m512i q = bytes16(qs + 32 * pair + 16 * half);
                float *o = out + 64 * pair + 16 * half;
                _mm512_storeu_ps(o, _mm512_sub_ps(_mm512_mul_ps(d0, to_float(_mm512_and_si512(q, low))), dm0));
                _mm512_storeu_ps(o + 32, _mm512_sub_ps(_mm512_mul_ps(d1, to_float(_mm512_srli_epi32(q, 4))), dm1));
            }
        }
    }
}

static CK_AVX512 void decode_q6_k(const uint8_t *src, size_t blocks, float *dst) {
    const __m512i low = _mm512_set1_epi32(0x0F), three = _mm512_set1_epi32(3), bias = _mm512_set1_epi32(32);
    for (size_t b = 0; b < blocks; b++) {
        const uint8_t *blk = src + b * 210;
        float *out = dst + b * 256;
        const float d = f16_at(blk + 208);
        const int8_t *scales = (const int8_t *)(blk + 192);
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = blk + 64 * h, *qh = blk + 128 + 32 * h;
            const int8_t *sc = scales + 8 * h;
            float *o = out + 128 * h;
            for (int half = 0; half < 2; half++) {
                const int j = 16 * half;
                const __m512 d0 = _mm512_set1_ps(d * (float)sc[half]), d1 = _mm512_set1_ps(d * (float)sc[2 + half]);
                const __m512 d2 = _mm512_set1_ps(d * (float)sc[4 + half]), d3 = _mm512_set1_ps(d * (float)sc[6 + half]);
                const __m512i l0 = bytes16(ql + j), l1 = bytes16(ql + j + 32), hb = bytes16(qh + j);
                __m512i q0 = _mm512_or_si512(_mm512_and_si512(l0, low), _mm512_slli_epi32(_mm512_and_si512(hb, three), 4));
                __m512i q1 = _mm512_or_si512(_mm512_and_si512(l1, low),
                                             _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(hb, 2), three), 4));
                __m512i q2 = _mm512_or_si512(_mm512_srli_epi32(l0, 4),
                                             _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(hb, 4), three), 4));
                __m512i q3 = _mm512_or_si512(_mm512_srli_epi32(l1, 4),
                                             _mm512_slli_epi32(_mm512_and_si512(_mm512_srli_epi32(hb, 6), three), 4));
                _mm512_storeu_ps(o + j, _mm512_mul_ps(d0, to_float(_mm512_sub_epi32(q0, bias))));
                _mm512_storeu_ps(o + j + 32, _mm512_mul_ps(d1, to_float(_mm512_sub_epi32(q1, bias))));
                _mm512_storeu_ps(o + j + 64, _mm512_mul_ps(d2, to_float(_mm512_sub_epi32(q2, bias))));
                _mm512_storeu_ps(o + j + 96, _mm512_mul_ps(d3, to_float(_mm512_sub_epi32(q3, bias))));
            }
        }
    }
}

int ck_quant_decode(uint32_t type, const uint8_t *src, size_t blocks, float *dst) {
    switch (type) {
        case 2: decode_q4_0(src, blocks, dst); return 1;
        case 3: decode_q4_1(src, blocks, dst); return 1;
        case 6: decode_q5_0(src, blocks, dst); return 1;
        case 7: decode_q5_1(src, blocks, dst); return 1;
        case 8: decode_q8_0(src, blocks, dst); return 1;
        case 12: decode_q4_k(src, blocks, dst); return 1;
        case 14: decode_q6_k(src, blocks, dst); return 1;
        default: return 0;
    }
}

#define CK_AVX512_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,f16c,avx512bf16")))

/// Transposes 16 vectors of 16 32-bit lanes in place (r[i][j] ↔ r[j][i]).
static inline CK_AVX512_BF16 void transpose16(__m512i r[16]) {
    __m512i t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_epi32(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_epi32(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_unpacklo_epi64(t[i], t[i + 2]);
        r[i + 1] = _mm512_unpackhi_epi64(t[i], t[i + 2]);
        r[i + 2] = _mm512_unpacklo_epi64(t[i + 1], t[i + 3]);
        r[i + 3] = _mm512_unpackhi_epi64(t[i + 1], t[i + 3]);
    }
    // Now r[4q + s] holds, in each 128-bit lane L, column 4L + c(s) of rows 4q .. 4q+3 (c = 0, 1, 2, 3 for
    // s = 0, 1, 2, 3). Gather the 128-bit lanes: rows 4q..4q+3 of column 4L + s come from r[4q + s] lane L.
    for (int s = 0; s < 4; s++) {
        __m512i a = r[s], b = r[4 + s], c = r[8 + s], d = r[12 + s];
        __m512i ab_lo = _mm512_shuffle_i32x4(a, b, 0x44), ab_hi = _mm512_shuffle_i32x4(a, b, 0xEE);
        __m512i cd_lo = _mm512_shuffle_i32x4(c, d, 0x44), cd_hi = _mm512_shuffle_i32x4(c, d, 0xEE);
        t[s] = _mm512_shuffle_i32x4(ab_lo, cd_lo, 0x88);       // lane 0 of a, b, c, d
        t[4 + s] = _mm512_shuffle_i32x4(ab_lo, cd_lo, 0xDD);   // lane 1
        t[8 + s] = _mm512_shuffle_i32x4(ab_hi, cd_hi, 0x88);   // lane 2
        t[12 + s] = _mm512_shuffle_i32x4(ab_hi, cd_hi, 0xDD);  // lane 3
    }
    for (int i = 0; i < 16; i++) r[i] = t[i];
}

/// Packs 16 rows of `len` (a multiple of 32) fp32 values, row i at tmp + 256·i, as bf16 pairs in the packed W
/// layout: pair p of row i → out[16·p + i].
static CK_AVX512_BF16 void ck_quant_pack_tile(const float *tmp, int len, uint32_t *out) {
    for (int g = 0; g < len; g += 32) {
        __m512i r[16];
        for (int i = 0; i < 16; i++) {
            __m512 lo = _mm512_load_ps(tmp + i * 256 + g), hi = _mm512_load_ps(tmp + i * 256 + g + 16);
            r[i] = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);
        }
        transpose16(r);
        for (int j = 0; j < 16; j++) _mm512_store_si512((void *)(out + (size_t)(g / 2 + j) * 16), r[j]);
    }
}

int ck_quant_pack_bf16_block(uint32_t type, const uint8_t *const *row_ptrs, int rows, int k, uint16_t *packed) {
    int block_size, type_size;
    switch (type) {
        case 2: block_size = 32; type_size = 18; break;
        case 3: block_size = 32; type_size = 20; break;
        case 6: block_size = 32; type_size = 22; break;
        case 7: block_size = 32; type_size = 24; break;
        case 8: block_size = 32; type_size = 34; break;
        case 12: block_size = 256; type_size = 144; break;
        case 14: block_size = 256; type_size = 210; break;
        default: return 0;
    }
    if (k % block_size != 0 || rows < 1 || rows > 16) return 0;
    float tmp[16][256] __attribute__((aligned(64)));
    uint32_t *out = (uint32_t *)packed;
    for (int c0 = 0; c0 < k; c0 += 256) {
        const int len = k - c0 < 256 ? k - c0 : 256;   // a multiple of 32 (block_size divides k)
        const int first_block = c0 / block_size, blocks = len / block_size;
        for (int i = 0; i < rows; i++) {
            ck_quant_decode(type, row_ptrs[i] + (size_t)first_block * type_size, (size_t)blocks, tmp[i]);
        }
        for (int i = rows; i < 16; i++) memset(tmp[i], 0, sizeof(float) * (size_t)len);
        ck_quant_pack_tile(&tmp[0][0], len, (uint32_t *)out + (size_t)(c0 / 2) * 16);
    }
    return 1;
}
