#include "CKernels.h"

#include <immintrin.h>
#include <string.h>

#define CK_BF16 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))
#define CK_INLINE static inline __attribute__((always_inline))
// Every loop over the tile's rows and blocks is unrolled so the accumulators live in registers.
#define CK_UNROLL _Pragma("clang loop unroll(full)")

int ck_bf16_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")
        && __builtin_cpu_supports("avx512bf16");
}

uint16_t ck_bf16_from_float(float value) {
    uint32_t u;
    memcpy(&u, &value, 4);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x0040u);  // NaN: keep sign, make quiet
    u += 0x7FFFu + ((u >> 16) & 1u);  // ties to even; carries into the exponent (→ inf past the largest finite)
    return (uint16_t)(u >> 16);
}

float ck_float_from_bf16(uint16_t bits) {
    uint32_t u = (uint32_t)bits << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

size_t ck_bf16_packed_count(int n, int k) {
    return (size_t)((n + 15) / 16) * (size_t)((k + 1) / 2) * 32;
}

void ck_bf16_pack(const float *w, int n, int k, int block_begin, int block_end, uint16_t *packed) {
    const size_t kp = (size_t)(k + 1) / 2;
    for (int b = block_begin; b < block_end; b++) {
        uint16_t *dst = packed + (size_t)b * kp * 32;
        for (int i = 0; i < 16; i++) {
            const int row = b * 16 + i;
            if (row >= n) {
                for (size_t p = 0; p < kp; p++) dst[p * 32 + 2 * i] = dst[p * 32 + 2 * i + 1] = 0;
                continue;
            }
            const float *src = w + (size_t)row * (size_t)k;
            for (int j = 0; j < k; j++) dst[(size_t)(j >> 1) * 32 + 2 * i + (j & 1)] = ck_bf16_from_float(src[j]);
            if (k & 1) dst[(kp - 1) * 32 + 2 * i + 1] = 0;
        }
    }
}

/// 16 fp32 lanes → their bf16 bit patterns in the low halves (same rounding as ck_bf16_from_float).
CK_INLINE CK_BF16 __m512i round16(__m512i u) {
    const __m512i one = _mm512_set1_epi32(1);
    __m512i bias = _mm512_add_epi32(_mm512_set1_epi32(0x7FFF), _mm512_and_si512(_mm512_srli_epi32(u, 16), one));
    __m512i rounded = _mm512_srli_epi32(_mm512_add_epi32(u, bias), 16);
    __m512i quiet = _mm512_or_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(0x40));
    __mmask16 nan = _mm512_cmpgt_epu32_mask(_mm512_and_si512(u, _mm512_set1_epi32(0x7FFFFFFF)),
                                            _mm512_set1_epi32(0x7F800000));
    return _mm512_mask_mov_epi32(rounded, nan, quiet);
}

CK_BF16 void ck_bf16_convert_rows(const float *x, int m, int k, uint32_t *xb) {
    const int kp = (k + 1) / 2;
    for (int r = 0; r < m; r++) {
        const float *src = x + (size_t)r * k;
        uint16_t *dst = (uint16_t *)(xb + (size_t)r * kp);
        int j = 0;
        for (; j + 16 <= k; j += 16) {
            __m512i u = _mm512_loadu_si512((const void *)(src + j));
            _mm256_storeu_si256((__m256i *)(dst + j), _mm512_cvtepi32_epi16(round16(u)));
        }
        if (j < k) {
            __mmask16 mask = (__mmask16)((1u << (k - j)) - 1);
            __m512i u = _mm512_maskz_loadu_epi32(mask, src + j);
            _mm256_mask_storeu_epi16(dst + j, mask, _mm512_cvtepi32_epi16(round16(u)));
        }
        if (k & 1) dst[k] = 0;
    }
}

/// One register tile: MR rows × NB blocks of 16 columns, over all kp pairs. `x` points at the tile's first row,
/// `w` at its first block, `y` at its first element; `cols` = valid output columns from the tile's first column.
CK_INLINE CK_BF16 void tile(const uint32_t *x, int kp, const int MR, const int NB, const uint16_t *w,
                            float *y, int ldy, int cols, int accumulate) {
    __m512 acc[12][8];
    CK_UNROLL for (int r = 0; r < MR; r++)
        CK_UNROLL for (int j = 0; j < NB; j++) acc[r][j] = _mm512_setzero_ps();
    const size_t block = (size_t)kp * 32;
    for (int p = 0; p < kp; p++) {
        __m512bh wv[8];
        CK_UNROLL for (int j = 0; j < NB; j++)
            wv[j] = (__m512bh)_mm512_load_si512((const void *)(w + (size_t)j * block + (size_t)p * 32));
        CK_UNROLL for (int r = 0; r < MR; r++) {
            __m512bh xv = (__m512bh)_mm512_set1_epi32((int)x[(size_t)r * kp + p]);
            CK_UNROLL for (int j = 0; j < NB; j++) acc[r][j] = _mm512_dpbf16_ps(acc[r][j], xv, wv[j]);
        }
    }
    CK_UNROLL for (int r = 0; r < MR; r++) {
        float *yr = y + (size_t)r * ldy;
        CK_UNROLL for (int j = 0; j < NB; j++) {
            int left = cols - 16 * j;
            if (left <= 0) break;
            if (left >= 16) {
                __m512 v = acc[r][j];
                if (accumulate) v = _mm512_add_ps(v, _mm512_loadu_ps(yr + 16 * j));
                _mm512_storeu_ps(yr + 16 * j, v);
            } else {
                __mmask16 mask = (__mmask16)((1u << left) - 1);
                __m512 v = acc[r][j];
                if (accumulate) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, yr + 16 * j));
                _mm512_mask_storeu_ps(yr + 16 * j, mask, v);
            }
        }
    }
}

#define CK_TILE(MR_, NB_) \
    case (MR_) * 16 + (NB_): tile(x, kp, MR_, NB_, w, y, ldy, cols, accumulate); return;

/// Dispatches to a tile instantiated for constant MR and NB: NB ∈ {1, 2} with MR ≤ 12, NB = 4 with MR ≤ 6,
/// NB = 8 with MR ≤ 3.
static CK_BF16 void run_tile(const uint32_t *x, int kp, int mr, int nb, const uint16_t *w, float *y, int ldy,
                             int cols, int accumulate) {
    switch (mr * 16 + nb) {
        CK_TILE(1, 1) CK_TILE(2, 1) CK_TILE(3, 1) CK_TILE(4, 1) CK_TILE(5, 1) CK_TILE(6, 1)
        CK_TILE(7, 1) CK_TILE(8, 1) CK_TILE(9, 1) CK_TILE(10, 1) CK_TILE(11, 1) CK_TILE(12, 1)
        CK_TILE(1, 2) CK_TILE(2, 2) CK_TILE(3, 2) CK_TILE(4, 2) CK_TILE(5, 2) CK_TILE(6, 2)
        CK_TILE(7, 2) CK_TILE(8, 2) CK_TILE(9, 2) CK_TILE(10, 2) CK_TILE(11, 2) CK_TILE(12, 2)
        CK_TILE(1, 4) CK_TILE(2, 4) CK_TILE(3, 4) CK_TILE(4, 4) CK_TILE(5, 4) CK_TILE(6, 4)
        CK_TILE(1, 8) CK_TILE(2, 8) CK_TILE(3, 8)
        default: __builtin_trap();
    }
}

CK_BF16 void ck_bf16_gemm(const uint32_t *xb, int m, int kp, const uint16_t *packed, int n, int block_begin,
                          int block_end, float *y, int ldy, int accumulate) {
    if (m <= 0 || block_end <= block_begin) return;
    const size_t block = (size_t)kp * 32;
    // Widest column group whose tile still fits the 32 vector registers for this many rows.
    const int nb_max = m <= 3 ? 8 : m <= 6 ? 4 : 2;
    const int row_max = nb_max == 2 ? 12 : m;
    const int tiles = (m + row_max - 1) / row_max;
    int b = block_begin;
    while (b < block_end) {
        int nb = nb_max;
        while (nb > block_end - b) nb >>= 1;
        const uint16_t *w = packed + (size_t)b * block;
        int cols = n - 16 * b;
        if (cols > 16 * nb) cols = 16 * nb;
        // Balanced row tiles (e.g. 16 rows → 8 + 8) of at most row_max rows.
        int r0 = 0;
        for (int t = 0; t < tiles; t++) {
            int rows = (m - r0) / (tiles - t);
            if ((m - r0) % (tiles - t)) rows++;
            run_tile(xb + (size_t)r0 * kp, kp, rows, nb, w, y + (size_t)r0 * ldy + 16 * b, ldy, cols, accumulate);
            r0 += rows;
        }
        b += nb;
    }
}
