import CBLAS
import CKernels

/// `y[M, N] = x[M, K]·Wᵀ + (accumulate ? y : 0)` for a weight `W` `[N, K]` that is not held in fp32 but decoded a
/// panel of rows at a time (a quantized GGUF tensor: `QuantizedMatrix`), so memory stays at the encoded size.
///
/// The N output columns are split into `threads` contiguous ranges (multiples of the panel height) computed
/// concurrently; each thread decodes `P` rows of W at a time into its own fp32 scratch `[P, K]` (sized to stay in
/// L2) and multiplies that panel at once:
///
///     M ≤ 4 (decode):      y[:, n0 ..< n0+P] (+)= x·panelᵀ in fp32 (`SmallBatchMatMul`, panels of ≤ 32 KiB so the
///                          decoded rows are re-read from L1): the exact fp32 product of the decoded weights.
///     M > 4 with AVX-512 BF16: the panel is rounded to bf16 and packed (by `packBlock` straight from the encoded
///                          rows when given, else decoded, `ck_bf16_convert_rows`, `ck_bf16_pack_converted`) and
///                          multiplied by the bf16 kernel of `PackedBF16Matrix` (`ck_bf16_gemm`; x rounded to
///                          bf16 once per call): y = Σ bf16(x)·bf16(W) in fp32.
///     M > 4 without it:    single-threaded `cblas_sgemm` on the fp32 panel.
///
/// Every weight is decoded once per call, so the decoder's speed bounds small-M products, and large-M products
/// run near the bf16 kernel's speed (decoding costs O(N·K) against the product's O(M·N·K)).
public enum PanelMatMul {
    /// Decodes rows `rows` of W (in output-feature order) into `[rows.count, K]` fp32 at the pointer. Called
    /// concurrently for disjoint row ranges.
    public typealias RowDecoder = (_ rows: Range<Int>, _ into: UnsafeMutablePointer<Float>) -> Void
    /// Writes rows `first ..< first + rows` (rows ≤ 16) of W as one 16-row block of `PackedBF16Matrix`'s layout at
    /// the pointer (the same bytes as packing the decoded rows), or returns false to fall back to `RowDecoder`.
    public typealias BlockPacker = (_ first: Int, _ rows: Int, _ into: UnsafeMutablePointer<UInt16>) -> Bool

    /// Rows of W decoded at a time for `m` x rows of length `k`: ≤ 32 KiB of fp32 for m ≤ 4 (re-read from L1);
    /// else a multiple of 16 between 32 and 64 with the bf16 panel ≤ 256 KiB (the fp32 scratch of the fallback
    /// path then stays ≤ 512 KiB, inside L2).
    public static func panelRows(rows m: Int, k: Int) -> Int {
        if m <= MatMul.smallBatchMaxRows { return max(1, 8192 / max(k, 1)) }
        return min(64, max(32, (131_072 / max(k, 1)) / 16 * 16))
    }

    /// The product; `bf16` selects the bf16 kernel for M > 4 (default: when the CPU has it; false forces the
    /// fp32 path, for tests and CPUs without it).
    public static func xWt(_ x: UnsafePointer<Float>, rows m: Int, outFeatures n: Int, inFeatures k: Int,
                           decodeRows: RowDecoder, packBlock: BlockPacker? = nil, into y: UnsafeMutablePointer<Float>,
                           accumulate: Bool = false, threads: Int = 2, bf16: Bool = BFloat16.isSupported) {
        guard m > 0, n > 0, k > 0 else {
            if m > 0, n > 0, !accumulate { for r in 0 ..< m { (y + r * n).update(repeating: 0, count: n) } }
            return
        }
        let useBF16 = bf16 && BFloat16.isSupported && m > MatMul.smallBatchMaxRows
        let p = panelRows(rows: m, k: k)
        let pairs = (k + 1) / 2
        // x rounded to bf16 once, shared by the threads.
        var xb: UnsafeMutablePointer<UInt32>?
        if useBF16 {
            xb = .allocate(capacity: m * pairs)
            ck_bf16_convert_rows(x, Int32(m), Int32(k), xb!)
        }
        defer { xb?.deallocate() }
        let parts = m * n * k < 1 << 16 ? 1 : threads
        withoutActuallyEscaping(decodeRows) { decodeRows in
            Parallel.forRanges(total: n, parts: parts, alignment: max(p, 16), threads: threads) { range in
                let scratch = UnsafeMutablePointer<Float>.allocate(capacity: p * k)
                defer { scratch.deallocate() }
                var panel: Panel?
                if useBF16 { panel = Panel(rows: p, pairs: pairs) }
                defer { panel?.deallocate() }
                for r0 in stride(from: range.lowerBound, to: range.upperBound, by: p) {
                    let rows = min(p, range.upperBound - r0)
                    if let panel, let xb {
                        let packed = packBlock.map { pack in
                            stride(from: 0, to: rows, by: 16).allSatisfy {
                                pack(r0 + $0, min(16, rows - $0), panel.packed + $0 / 16 * pairs * 32)
                            }
                        } ?? false
                        if !packed {
                            decodeRows(r0 ..< r0 + rows, scratch)
                            ck_bf16_convert_rows(scratch, Int32(rows), Int32(k), panel.converted)
                            ck_bf16_pack_converted(panel.converted, Int32(rows), Int32(pairs), panel.packed)
                        }
                        ck_bf16_gemm(xb, Int32(m), Int32(pairs), panel.packed, Int32(rows), 0, Int32((rows + 15) / 16),
                                     y + r0, Int32(n), accumulate ? 1 : 0)
                    } else if m <= MatMul.smallBatchMaxRows {
                        decodeRows(r0 ..< r0 + rows, scratch)
                        SmallBatchMatMul.compute(x, rows: m, scratch, rows: rows, k: k, into: y + r0, ldy: n,
                                                 accumulate: accumulate)
                    } else {
                        decodeRows(r0 ..< r0 + rows, scratch)
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(m), Int32(rows), Int32(k),
                                    1, x, Int32(k), scratch, Int32(k), accumulate ? 1 : 0, y + r0, Int32(n))
                    }
                }
            }
        }
    }

    /// One thread's bf16 buffers: the panel's rows as bf16 pairs `[P, ceil(K/2)]` and packed for the kernel.
    struct Panel {
        let converted: UnsafeMutablePointer<UInt32>
        let packed: UnsafeMutablePointer<UInt16>

        init(rows p: Int, pairs: Int) {
            converted = .allocate(capacity: p * pairs)
            let count = ck_bf16_packed_count(Int32(p), Int32(2 * pairs))
            packed = UnsafeMutableRawPointer.allocate(byteCount: count * 2, alignment: 64)
                .bindMemory(to: UInt16.self, capacity: count)
        }

        func deallocate() {
            converted.deallocate()
            packed.deallocate()
        }
    }
}
