#ifndef CKERNELS_H
#define CKERNELS_H

#include <stddef.h>
#include <stdint.h>

/// bf16 matrix products with the AVX-512 BF16 dot-product instruction (vdpbf16ps).
///
/// Contract: y[M, N] (+)= x[M, K] · Wᵀ with W [N, K] row-major fp32 (Hugging Face [out, in]), x and y fp32.
/// W is rounded to bf16 once (`ck_bf16_pack`), x per call (`ck_bf16_convert_rows`); products of bf16 values are
/// summed in fp32.
///
/// Packed W layout (VNNI pairs): blocks of 16 output features n0 = 16·b ..< n0 + 16; within a block, for each
/// pair of input features (2p, 2p + 1), p = 0 ..< KP = ceil(K / 2), one 64-byte vector
///     [w[n0][2p], w[n0][2p+1], w[n0+1][2p], w[n0+1][2p+1], ..., w[n0+15][2p], w[n0+15][2p+1]]
/// (bf16 bit patterns); block b starts at element b · KP · 32. Rows ≥ N and the column K (odd K) are zeros.
///
/// Converted x layout: M rows of KP uint32, element p of row r = bf16(x[r][2p]) | bf16(x[r][2p+1]) << 16
/// (0 beyond K).
///
/// Rounding fp32 → bf16: to nearest, ties to even; NaN stays a (quiet) NaN with its sign; ±inf stays ±inf;
/// values that round past the largest finite bf16 become ±inf. Note: vdpbf16ps treats bf16 subnormal inputs as
/// zero and flushes subnormal results to zero (no MXCSR), so products with |value| < 2^-126 are lost.

/// 1 when this CPU (and OS) can run the bf16 kernels (AVX-512 F/BW/VL + AVX512_BF16), else 0.
int ck_bf16_supported(void);

/// The bf16 bit pattern nearest to `value` (ties to even; NaN → quiet NaN).
uint16_t ck_bf16_from_float(float value);

/// The fp32 value of a bf16 bit pattern (exact).
float ck_float_from_bf16(uint16_t bits);

/// Number of uint16 elements of a packed [n, k] matrix: ceil(n/16) · ceil(k/2) · 32.
size_t ck_bf16_packed_count(int n, int k);

/// Packs blocks `block_begin ..< block_end` (of ceil(n/16)) of W [n, k] into `packed` (the whole packed array;
/// the blocks are written at their own offsets, so disjoint block ranges can be packed concurrently).
/// Portable (no AVX-512 needed).
void ck_bf16_pack(const float *w, int n, int k, int block_begin, int block_end, uint16_t *packed);

/// Converts x [m, k] (row-major) to `m` rows of ceil(k/2) bf16 pairs. Requires ck_bf16_supported().
void ck_bf16_convert_rows(const float *x, int m, int k, uint32_t *xb);

/// y[r][16·b + i] (+)= Σ_p dot(x pair p of row r, W pair p of output 16·b + i) for rows r < m and output columns
/// of blocks `block_begin ..< block_end` that are < n. `xb` from ck_bf16_convert_rows (rows of `kp` pairs), `packed`
/// from ck_bf16_pack (64-byte aligned), y with leading dimension `ldy`. accumulate = 0 overwrites y.
/// Requires ck_bf16_supported().
void ck_bf16_gemm(const uint32_t *xb, int m, int kp, const uint16_t *packed, int n, int block_begin,
                  int block_end, float *y, int ldy, int accumulate);

/// Packs rows already converted by ck_bf16_convert_rows (`rows` rows of `kp` pairs, contiguous) into the packed W
/// layout above: ceil(rows/16) blocks, rows beyond `rows` zero. Gives the same bytes as ck_bf16_pack on the fp32
/// rows, vectorized (one 16-lane gather per pair and block). `packed` must be 64-byte aligned. Requires
/// ck_bf16_supported().
void ck_bf16_pack_converted(const uint32_t *rows_b, int rows, int kp, uint16_t *packed);

/// 1 when this CPU (and OS) has AVX-512 F/BW/VL/DQ and F16C (what ck_quant_decode needs), else 0.
int ck_avx512_supported(void);

/// Decodes `blocks` blocks of the ggml block quantization numbered `type` in GGUF (2 Q4_0, 3 Q4_1, 6 Q5_0,
/// 7 Q5_1, 8 Q8_0, 12 Q4_K, 14 Q6_K) from `src` into fp32 `dst` (blocks · 32 or · 256 values), bit-identical to
/// ggml's reference decoders; returns 1, or 0 (writing nothing) for any other type. Requires ck_avx512_supported().
int ck_quant_decode(uint32_t type, const uint8_t *src, size_t blocks, float *dst);

/// Decodes `rows` (1 ... 16) quantized rows of `k` elements of `type` (as for ck_quant_decode; row i starts at
/// `row_ptrs[i]`) and writes them as one 16-row block of the packed bf16 W layout above (`k / 2` pairs · 64 bytes
/// at `packed`, 64-byte aligned; rows ≥ `rows` zero), rounding like ck_bf16_pack for every finite value, without
/// an fp32 copy of the rows (decoded 256 columns at a time). Returns 1, or 0 (writing nothing) for a type
/// ck_quant_decode does not decode. Requires ck_bf16_supported() and ck_avx512_supported().
int ck_quant_pack_bf16_block(uint32_t type, const uint8_t *const *row_ptrs, int rows, int k, uint16_t *packed);

/// Integer-dot products of few activation rows with block-quantized weights (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K,
/// Q6_K; type numbers as in ck_quant_decode), never decoding the weights to floats.
///
/// Every weight is w_j = s·u_j + o with u_j an unsigned byte and (s, o) constant over 16 or 32 elements (Q4_0:
/// s = d, o = −8d; Q5_0: o = −16d; Q4_1/Q5_1: o = m; Q8_0: u = q + 128, o = −128d; Q4_K: s = d·sc, o = −dmin·m;
/// Q6_K: s = d·sc per 16, o = −32s; Q8_0 uses its signed q with o = 0). The activations are quantized to int16
/// per group of 32: dx = max|x|/32767, xq_j = round(x_j/dx) (ck_quantize_rows_q16), so
///     y = Σ_groups dx·(s·Σ_j u_j·xq_j + o·Σ_j xq_j)          (Σ u·xq by vpdpwssd, exact in int32)
/// = Σ_j w_j·x̂_j with x̂_j = dx·xq_j: the exact product of the weights with x rounded to 16 bits per group
/// (|x_j − x̂_j| ≤ dx/2, i.e. 2⁻¹⁶ of the group's largest |x|), summed in fp32.

/// 1 when this CPU has AVX-512 F/BW/VL/DQ, VNNI and F16C, else 0.
int ck_vnni_supported(void);

/// 1 when ck_quant_dot_rows handles `type`, else 0.
int ck_quant_dot_supported(uint32_t type);

/// Quantizes x [m, k] (k a multiple of 32) per group of 32: xq [m, k] int16, dx [m, k/32], cx16 [m, k/16] =
/// dx · Σ xq over each half group. Requires ck_vnni_supported().
void ck_quantize_rows_q16(const float *x, int m, int k, int16_t *xq, float *dx, float *cx16);

/// y[i][o] (+)= Σ_j w[o][j]·x̂[i][j] for i < m (1 ... 4) and outputs o in [row_begin, row_end): weight row o is
/// stored at base + (order ? order[o] : o)·row_bytes (k elements of `type`); x̂ from ck_quantize_rows_q16; y with
/// leading dimension ldy. Requires ck_vnni_supported() and ck_quant_dot_supported(type).
void ck_quant_dot_rows(uint32_t type, const uint8_t *base, size_t row_bytes, const int32_t *order, int row_begin,
                       int row_end, int k, const int16_t *xq, const float *dx, const float *cx16, int m, float *y,
                       int ldy, int accumulate);

/// Decode-time attention scores of one query row for the `heads` query heads that share one kv head:
///     scores[i][j] = scale · Σ_e q[i][e] · keys[j][e]        i < heads, j < length, e < d
/// q [heads, d] contiguous; key row j at keys + j·stride; scores [heads, length]. d must be a multiple of 16.
/// Bit for bit the portable path's `dot(q, k) * scale` (one FMA chain over 16-lane chunks, then Numerics'
/// `laneSum` order). Requires ck_avx512_supported().
void ck_attention_decode_scores(const float *q, int heads, int d, const float *keys, long stride, int length,
                                float scale, float *scores);

/// The weighted sum of cached values for the same heads:
///     out[i][e] = Σ_j p[i][j] · values[j][e]                 i < heads, e < d, j < length
/// p [heads, length] (the softmaxed scores); value row j at values + j·stride; out [heads, d], overwritten.
/// Each output element is accumulated out = fma(p[i][j], values[j][e], out) for j = 0, 1, ... in order, as the
/// portable path does. d must be a multiple of 16. Requires ck_avx512_supported().
void ck_attention_decode_values(const float *p, int heads, const float *values, long stride, int length, int d,
                                float *out);

/// The same two products over an fp16 (IEEE half) cache (each cached element widened exactly to fp32, then the fp32
/// arithmetic above, bit for bit): rows `stride` half elements apart.
void ck_attention_decode_scores_f16(const float *q, int heads, int d, const uint16_t *keys, long stride, int length,
                                     float scale, float *scores);
void ck_attention_decode_values_f16(const float *p, int heads, const uint16_t *values, long stride, int length,
                                     int d, float *out);

/// The SwiGLU middle out[i] = silu(gate[i]) · up[i], silu(g) = g·σ(g), for i < count (`out` may alias either
/// input), with the σ of Numerics' `FastExp.sigmoid`: equal bit for bit to `Kernels.portableSiluMul`.
/// Requires ck_avx512_supported().
void ck_silu_mul(const float *gate, const float *up, long count, float *out);
/// Its backward for i < count, in place: gate[i] ← da·u·σ(g)·(1 + g·(1 − σ(g))), up[i] ← da·g·σ(g) with
/// g = gate[i], u = up[i], da = output_gradient[i]; equal bit for bit to `BackwardKernels.portableSiluMul`.
/// Requires ck_avx512_supported().
void ck_silu_mul_backward(float *gate, float *up, const float *output_gradient, long count);

/// A job part: `task(context, worker)` for worker 0 ..< workers.
typedef void (*ck_pool_task)(void *context, int worker);

/// Runs task(context, w) for w = 0 ..< workers at the same time, w = 0 on the calling thread and the others on
/// persistent pool threads (created on first use; they spin ~0.1 ms after each job before sleeping, so jobs that
/// follow each other closely start without a thread wake-up). After its own part the caller also runs every part
/// whose thread has not started it yet, and it waits only for parts in progress. Returns 1 when done; returns 0
/// without running anything when the pool is already running a job (a nested or concurrent call), when workers < 2
/// or ≥ 64, when threads cannot be created, or while the pool backs off from contention (workers arriving late in
/// several recent jobs, see pool.c): the caller then runs the parts another way.
int ck_pool_run(int workers, ck_pool_task task, void *context);

/// Turns the contention back-off on (the default) or off (tests that must exercise the pool) and ends any back-off.
void ck_pool_set_adaptive(int adaptive);

/// How many times the pool has backed off from contention since the process started.
long ck_pool_backoffs(void);

#endif
