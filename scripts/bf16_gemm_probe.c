// Single-thread speed of the engine's bf16 matrix product (Sources/CKernels/bf16.c, `ck_bf16_gemm`, the kernel
// behind `PackedBF16Matrix.xWt`) on the linear-layer shapes of both models, with hot caches (the same W and x
// reused), as a share of this CPU's vdpbf16ps peak (scripts/peak_flops.c). BENCHMARKS.md, "What this machine can
// do at most", quotes its output. Build with the flags SwiftPM uses for the CKernels target in release builds:
//   clang -O2 -ISources/CKernels/include scripts/bf16_gemm_probe.c Sources/CKernels/bf16.c -o /tmp/bf16_gemm_probe
//   /tmp/bf16_gemm_probe            (stop other work first: it measures one core)
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "CKernels.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(void) {
    if (!ck_bf16_supported()) {
        fprintf(stderr, "this CPU has no AVX-512 BF16\n");
        return 1;
    }
    // [N, K] of y = x·Wᵀ: SmolLM2-135M (q/o, gate/up, down) and Qwen2.5-0.5B (q/o, gate/up, down).
    const int shapes[][2] = {{576, 576}, {1536, 576}, {576, 1536}, {896, 896}, {4864, 896}, {896, 4864}};
    const int rows[] = {1, 8, 16, 32, 64, 512};
    printf("| W [N, K] |");
    for (int r = 0; r < 6; r++) printf(" M = %d |", rows[r]);
    printf("\n|---|");
    for (int r = 0; r < 6; r++) printf("---:|");
    printf("\n");
    for (int s = 0; s < 6; s++) {
        const int n = shapes[s][0], k = shapes[s][1], kp = (k + 1) / 2;
        float *w = malloc((size_t)n * k * sizeof(float));
        for (size_t i = 0; i < (size_t)n * k; i++) w[i] = (float)(rand() % 2001 - 1000) * 1e-3f;
        uint16_t *packed = aligned_alloc(64, ck_bf16_packed_count(n, k) * 2);
        ck_bf16_pack(w, n, k, 0, (n + 15) / 16, packed);
        printf("| %d × %d |", n, k);
        for (int r = 0; r < 6; r++) {
            const int m = rows[r];
            float *x = malloc((size_t)m * k * sizeof(float));
            for (size_t i = 0; i < (size_t)m * k; i++) x[i] = (float)(rand() % 2001 - 1000) * 1e-3f;
            uint32_t *xb = aligned_alloc(64, ((size_t)m * kp * 4 + 63) / 64 * 64);
            ck_bf16_convert_rows(x, m, k, xb);
            float *y = malloc((size_t)m * n * sizeof(float));
            const double flops = 2.0 * m * n * k;
            const int reps = (int)(2e8 / flops) + 1;
            double best = 1e30;
            for (int t = 0; t < 5; t++) {
                const double start = now();
                for (int q = 0; q < reps; q++) ck_bf16_gemm(xb, m, kp, packed, n, 0, (n + 15) / 16, y, n, 0);
                const double seconds = (now() - start) / reps;
                if (seconds < best) best = seconds;
            }
            printf(" %.0f |", flops / best / 1e9);
            free(x);
            free(xb);
            free(y);
        }
        printf("\n");
        free(w);
        free(packed);
    }
    printf("(GFLOPS, one thread, best of 5; 2·M·N·K flops per product)\n");
    return 0;
}
