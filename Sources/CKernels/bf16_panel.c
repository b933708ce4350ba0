#include "CKernels.h"

#include <immintrin.h>

#define CK_BF16_PANEL __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))

CK_BF16_PANEL void ck_bf16_pack_converted(const uint32_t *rows_b, int rows, int kp, uint16_t *packed) {
    const int blocks = (rows + 15) / 16;
    const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i index = _mm512_mullo_epi32(lane, _mm512_set1_epi32(kp));
    for (int b = 0; b < blocks; b++) {
        const int valid = rows - 16 * b < 16 ? rows - 16 * b : 16;
        const __mmask16 mask = (__mmask16)((1u << valid) - 1);
        const uint32_t *src = rows_b + (size_t)b * 16 * (size_t)kp;
        uint32_t *dst = (uint32_t *)packed + (size_t)b * (size_t)kp * 16;
        for (int p = 0; p < kp; p++) {
            __m512i v = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), mask, index, src + p, 4);
            _mm512_store_si512((void *)(dst + (size_t)p * 16), v);
        }
    }
}
