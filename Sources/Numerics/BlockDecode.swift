import CKernels

/// AVX-512 decoders of GGUF block quantizations to fp32 (`ck_quant_decode`: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K,
/// Q6_K), bit-identical to the portable decoders of ModelFiles (`Dequantize`), which use them when they can.
public enum BlockDecode {
    /// Whether this CPU runs them (AVX-512 F/BW/VL/DQ and F16C).
    public static let isSupported: Bool = ck_avx512_supported() != 0

    /// Decodes `blocks` blocks of the type numbered `typeCode` in GGUF from `src` into `dst`; false (nothing
    /// written) when there is no vector decoder for that type or the CPU lacks AVX-512. `src` must hold the blocks.
    @inline(__always)
    public static func decode(typeCode: UInt32, _ src: UnsafePointer<UInt8>, blocks: Int,
                              into dst: UnsafeMutablePointer<Float>) -> Bool {
        isSupported && ck_quant_decode(typeCode, src, blocks, dst) != 0
    }

    /// Decodes `rows` (1 ... 16) rows of `k` elements (row i at `rowPointers[i]`) straight into one 16-row block of
    /// `PackedBF16Matrix`'s layout at `packed` (`ck_quant_pack_bf16_block`); false (nothing written) when the type
    /// has no vector decoder or the CPU lacks AVX-512 BF16.
    public static func packBF16Block(typeCode: UInt32, rowPointers: UnsafePointer<UnsafePointer<UInt8>?>, rows: Int,
                                     k: Int, into packed: UnsafeMutablePointer<UInt16>) -> Bool {
        isSupported && BFloat16.isSupported
            && ck_quant_pack_bf16_block(typeCode, rowPointers, Int32(rows), Int32(k), packed) != 0
    }
}
