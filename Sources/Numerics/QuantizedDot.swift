import CKernels

/// `y[M, N] (+)= x̂[M, K]·Wᵀ` for few rows (M ≤ 4: decoding) straight from block-quantized weights by integer dot
/// products (`ck_quant_dot_rows`, AVX-512 VNNI `vpdpwssd`): x is rounded to 16 bits per group of 32
/// (`x̂ = dx·round(x/dx)`, dx = max|x|/32767) and each weight row is read once as bytes, never decoded to floats. The result
/// is the exact product of the weights with x̂, summed in fp32: |y − x·Wᵀ| ≤ Σ_j |w_j|·dx_j/2 (+ rounding).
/// Weight formats and the math: CKernels.h. The N outputs are split into `threads` ranges computed concurrently.
public enum QuantizedDot {
    /// Most rows of x per call.
    public static let maxRows = 4

    /// Whether this CPU runs it (AVX-512 VNNI).
    public static let isSupported: Bool = ck_vnni_supported() != 0

    /// Whether the GGUF type numbered `typeCode` is handled on this CPU.
    public static func supports(typeCode: UInt32) -> Bool {
        isSupported && ck_quant_dot_supported(typeCode) != 0
    }

    /// The product for `m` (1 ... 4) rows of x `[m, k]` (k a multiple of 32) with the `n` weight rows stored at
    /// `base + (order?[o] ?? o)·rowBytes`. Requires `supports(typeCode:)`.
    public static func xWt(typeCode: UInt32, base: UnsafeRawPointer, rowBytes: Int, order: UnsafePointer<Int32>?,
                           outFeatures n: Int, inFeatures k: Int, _ x: UnsafePointer<Float>, rows m: Int,
                           into y: UnsafeMutablePointer<Float>, accumulate: Bool = false, threads: Int = 2) {
        precondition(supports(typeCode: typeCode) && (1 ... maxRows).contains(m) && k % 32 == 0,
                     "QuantizedDot: unsupported type \(typeCode), \(m) rows or k = \(k)")
        let xq = UnsafeMutablePointer<Int16>.allocate(capacity: m * k)
        let dx = UnsafeMutablePointer<Float>.allocate(capacity: m * k / 32)
        let cx16 = UnsafeMutablePointer<Float>.allocate(capacity: m * k / 16)
        defer {
            xq.deallocate()
            dx.deallocate()
            cx16.deallocate()
        }
        ck_quantize_rows_q16(x, Int32(m), Int32(k), xq, dx, cx16)
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        let parts = m * n * k < 1 << 16 ? 1 : threads
        Parallel.forRanges(total: n, parts: parts, alignment: 16, threads: threads) { r in
            ck_quant_dot_rows(typeCode, bytes, rowBytes, order, Int32(r.lowerBound), Int32(r.upperBound), Int32(k),
                              xq, dx, cx16, Int32(m), y, Int32(n), accumulate ? 1 : 0)
        }
    }
}
