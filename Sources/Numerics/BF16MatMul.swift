import CKernels

/// bf16 numbers (the top 16 bits of an fp32: sign, 8 exponent bits, 7 mantissa bits) as the engine uses them.
public enum BFloat16 {
    /// Whether this CPU runs the bf16 kernels (AVX-512 F/BW/VL/DQ and AVX512_BF16's `vdpbf16ps`).
    public static let isSupported: Bool = ck_bf16_supported() != 0

    /// The bf16 bit pattern nearest to `value`: ties to even; NaN stays a quiet NaN with its sign; values past
    /// the largest finite bf16 round to ±inf; subnormals round like any other value.
    @inline(__always)
    public static func bits(rounding value: Float) -> UInt16 { ck_bf16_from_float(value) }

    /// The fp32 value of a bf16 bit pattern (exact).
    @inline(__always)
    public static func float(bits: UInt16) -> Float { ck_float_from_bf16(bits) }

    /// The vector conversion the bf16 product applies to its input rows: `x` `[rows, k]` → per row `ceil(k/2)`
    /// pairs of bf16 bit patterns, `[bits(x[r][0]), bits(x[r][1]), …]` (a trailing 0 for odd k), with the same
    /// rounding as `bits(rounding:)`. Requires `isSupported`.
    public static func roundRows(_ x: UnsafePointer<Float>, rows m: Int, k: Int) -> [UInt16] {
        precondition(isSupported, "bf16 conversion needs AVX-512 BF16")
        let pairs = (k + 1) / 2
        return [UInt16](unsafeUninitializedCapacity: m * pairs * 2) { buffer, count in
            UnsafeMutableRawPointer(buffer.baseAddress!).withMemoryRebound(to: UInt32.self, capacity: m * pairs) {
                ck_bf16_convert_rows(x, Int32(m), Int32(k), $0)
            }
            count = m * pairs * 2
        }
    }

    /// `value` rounded to bf16 and back.
    @inline(__always)
    public static func rounded(_ value: Float) -> Float { float(bits: bits(rounding: value)) }
}

/// Thrown when bf16 weights are asked for on a CPU without the AVX-512 BF16 instructions.
public struct BFloat16UnsupportedError: Error, CustomStringConvertible {
    public init() {}
    public var description: String {
        "bf16 weights need a CPU with AVX-512 BF16 (vdpbf16ps: avx512_bf16 in /proc/cpuinfo); this CPU lacks it: use fp32 weights"
    }
}

/// A weight matrix `W` `[outFeatures, inFeatures]` rounded once to bf16 and packed for `vdpbf16ps`, with the
/// product `y[M, N] (+)= x[M, K]·Wᵀ` of `MatMul.xWt` (N = outFeatures, K = inFeatures).
///
/// Packed layout (see CKernels.h): blocks of 16 output features; per block, per pair of input features
/// (2p, 2p + 1), one 64-byte vector `[w[n0][2p], w[n0][2p+1], w[n0+1][2p], …, w[n0+15][2p+1]]`; N padded to 16
/// and K to 2 with zeros. x is rounded to bf16 on every call (`M·K` values); each pair `x[m][2p], x[m][2p+1]` is
/// broadcast as one 32-bit element and multiplied with 16 outputs' pairs at once, products summed in fp32.
///
/// Kernel: register tiles of up to 12 rows × 32 outputs (24 accumulators) for M ≥ 7, 6 × 64 for M = 4 … 6 and
/// 3 × 128 for M ≤ 3 (eight weight streams in flight, so the accumulation chains do not stall at M = 1). The
/// output blocks are split into `threads` contiguous ranges computed concurrently.
public final class PackedBF16Matrix: @unchecked Sendable {
    public let outFeatures: Int
    public let inFeatures: Int
    /// `ceil(inFeatures / 2)`: pairs per packed row.
    let pairs: Int
    let blocks: Int
    let storage: UnsafeMutablePointer<UInt16>

    /// Packs `w` (`[outFeatures, inFeatures]` row-major fp32), the blocks split over `threads`.
    public init(_ w: UnsafePointer<Float>, outFeatures n: Int, inFeatures k: Int, threads: Int = 1) throws {
        guard BFloat16.isSupported else { throw BFloat16UnsupportedError() }
        precondition(n > 0 && k > 0 && n <= Int(Int32.max) && k <= Int(Int32.max), "bf16 pack: bad shape [\(n), \(k)]")
        outFeatures = n
        inFeatures = k
        pairs = (k + 1) / 2
        blocks = (n + 15) / 16
        let count = ck_bf16_packed_count(Int32(n), Int32(k))
        storage = UnsafeMutableRawPointer.allocate(byteCount: count * 2, alignment: 64)
            .bindMemory(to: UInt16.self, capacity: count)
        HugePages.advise(storage, count: count)
        let parts = n * k < 1 << 18 ? 1 : threads
        let storage = storage
        Parallel.forRanges(total: blocks, parts: parts, threads: threads) { r in
            ck_bf16_pack(w, Int32(n), Int32(k), Int32(r.lowerBound), Int32(r.upperBound), storage)
        }
    }

    deinit { storage.deallocate() }

    /// Bytes held by the packed weights.
    public var byteCount: Int { blocks * pairs * 64 }

    /// How a product of `m` rows and `products` multiply-adds is split over the output blocks: below ~64k
    /// multiply-adds the thread hand-off costs more than it saves (one part); ranges are multiples of 4 blocks for
    /// M ≤ 6 (whole 4-block groups: 896 outputs split 28 + 28 blocks rather than 24 + 32 with 8-block groups) and of
    /// 2 blocks above (the 12 × 32 tile).
    static func split(rows m: Int, products: Int, threads: Int) -> (parts: Int, alignment: Int) {
        (products < 1 << 16 ? 1 : threads, m <= 6 ? 4 : 2)
    }

    /// The products of several matrices with one input, `y_i[m, N_i] = x[m, K]·W_iᵀ` (every `W_i` with the same
    /// `inFeatures` K), in one parallel pass: x is rounded to bf16 once and the output blocks of all the matrices,
    /// taken one matrix after the other, are split into `threads` contiguous ranges (e.g. a layer's q, k and v
    /// projections). Each output is bit for bit what `W_i.xWt(x, rows: m, into: y_i)` gives: a column's sum depends
    /// only on its weights, x and m, not on which blocks are computed together. Saves a thread hand-off per extra
    /// matrix, which matters at small m (decode), where one product takes a few microseconds.
    public static func xWt(_ x: UnsafePointer<Float>, rows m: Int, matrices: [PackedBF16Matrix],
                           into outputs: [UnsafeMutablePointer<Float>], threads: Int = 2) {
        precondition(matrices.count == outputs.count, "bf16 shared-input product: \(matrices.count) matrices, \(outputs.count) outputs")
        guard m > 0, let first = matrices.first else { return }
        let k = first.inFeatures, pairs = first.pairs
        precondition(matrices.allSatisfy { $0.inFeatures == k }, "bf16 shared-input product: matrices differ in inFeatures")
        let xb = UnsafeMutablePointer<UInt32>.allocate(capacity: m * pairs)
        defer { xb.deallocate() }
        ck_bf16_convert_rows(x, Int32(m), Int32(k), xb)
        // Block offsets of each matrix in the concatenated list.
        var offsets = [0]
        for matrix in matrices { offsets.append(offsets[offsets.count - 1] + matrix.blocks) }
        let totalOutputs = matrices.reduce(0) { $0 + $1.outFeatures }
        let (parts, group) = split(rows: m, products: m * totalOutputs * k, threads: threads)
        Parallel.forRanges(total: offsets[matrices.count], parts: parts, alignment: group, threads: threads) { r in
            for (i, matrix) in matrices.enumerated() {
                let low = max(r.lowerBound, offsets[i]), high = min(r.upperBound, offsets[i + 1])
                guard low < high else { continue }
                let n = Int32(matrix.outFeatures)
                ck_bf16_gemm(xb, Int32(m), Int32(pairs), matrix.storage, n, Int32(low - offsets[i]),
                             Int32(high - offsets[i]), outputs[i], n, 0)
            }
        }
    }

    /// `y[m, outFeatures] = x[m, inFeatures]·Wᵀ + (accumulate ? y : 0)`, x and y row-major fp32.
    public func xWt(_ x: UnsafePointer<Float>, rows m: Int, into y: UnsafeMutablePointer<Float>,
                    accumulate: Bool = false, threads: Int = 2) {
        guard m > 0 else { return }
        let xb = UnsafeMutablePointer<UInt32>.allocate(capacity: m * pairs)
        defer { xb.deallocate() }
        ck_bf16_convert_rows(x, Int32(m), Int32(inFeatures), xb)
        let (parts, group) = Self.split(rows: m, products: m * outFeatures * inFeatures, threads: threads)
        let n = Int32(outFeatures), kp = Int32(pairs), storage = storage
        Parallel.forRanges(total: blocks, parts: parts, alignment: group, threads: threads) { r in
            ck_bf16_gemm(xb, Int32(m), kp, storage, n, Int32(r.lowerBound), Int32(r.upperBound), y, n,
                         accumulate ? 1 : 0)
        }
    }
}
