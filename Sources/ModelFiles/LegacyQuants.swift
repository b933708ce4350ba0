import Numerics

/// Decoders for ggml's 32-element "legacy" block quantizations. Each block holds 32 consecutive elements.
/// `d` and `m` are IEEE fp16; nibble `j` (j < 16) of the packed quants is the low 4 bits of byte `j`,
/// element `j + 16` the high 4 bits of byte `j`. For the 5-bit types bit `i` of the little-endian u32 `qh`
/// is the fifth bit of element `i`.
///
/// | type | bytes | layout                              | value                 |
/// |------|-------|-------------------------------------|-----------------------|
/// | Q4_0 | 18    | d, qs[16]                           | d * (q - 8)           |
/// | Q4_1 | 20    | d, m, qs[16]                        | d * q + m             |
/// | Q5_0 | 22    | d, qh: u32, qs[16]                  | d * (q - 16)          |
/// | Q5_1 | 24    | d, m, qh: u32, qs[16]               | d * q + m             |
/// | Q8_0 | 34    | d, qs: int8[32]                     | d * q                 |
///
/// Arithmetic is fp32 in the order written (no fused multiply-add), which is what ggml and gguf-py compute,
/// so results are bit-identical to theirs.
enum LegacyQuants {
    @inline(__always)
    static func f16(_ p: UnsafePointer<UInt8>, _ offset: Int) -> Float {
        Half.f16ToFloat(UInt16(p[offset]) | UInt16(p[offset + 1]) << 8)
    }

    static func decodeQ4_0(_ src: UnsafePointer<UInt8>, blocks: Int, into dst: UnsafeMutablePointer<Float>) {
        for b in 0 ..< blocks {
            let blk = src + b * 18
            let out = dst + b * 32
            let d = f16(blk, 0)
            let qs = blk + 2
            for j in 0 ..< 16 {
                let byte = qs[j]
                out[j] = d * Float(Int32(byte & 0x0F) - 8)
                out[j + 16] = d * Float(Int32(byte >> 4) - 8)
            }
        }
    }

    static func decodeQ4_1(_ src: UnsafePointer<UInt8>, blocks: Int, into dst: UnsafeMutablePointer<Float>) {
        for b in 0 ..< blocks {
            let blk = src + b * 20
            let out = dst + b * 32
            let d = f16(blk, 0)
            let m = f16(blk, 2)
            let qs = blk + 4
            for j in 0 ..< 16 {
                let byte = qs[j]
                out[j] = d * Float(byte & 0x0F) + m
                out[j + 16] = d * Float(byte >> 4) + m
            }
        }
    }

    @inline(__always)
    static func loadU32(_ p: UnsafePointer<UInt8>) -> UInt32 {
        UnsafeRawPointer(p).loadUnaligned(as: UInt32.self).littleEndian
    }

    static func decodeQ5_0(_ src: UnsafePointer<UInt8>, blocks: Int, into dst: UnsafeMutablePointer<Float>) {
        for b in 0 ..< blocks {
            let blk = src + b * 22
            let out = dst + b * 32
            let d = f16(blk, 0)
            let qh = loadU32(blk + 2)
            let qs = blk + 6
            for j in 0 ..< 16 {
                let byte = UInt32(qs[j])
                let lo = (byte & 0x0F) | ((qh >> UInt32(j)) & 1) << 4
                let hi = (byte >> 4) | ((qh >> UInt32(j + 16)) & 1) << 4
                out[j] = d * Float(Int32(lo) - 16)
                out[j + 16] = d * Float(Int32(hi) - 16)
            }
        }
    }

    static func decodeQ5_1(_ src: UnsafePointer<UInt8>, blocks: Int, into dst: UnsafeMutablePointer<Float>) {
        for b in 0 ..< blocks {
            let blk = src + b * 24
            let out = dst + b * 32
            let d = f16(blk, 0)
            let m = f16(blk, 2)
            let qh = loadU32(blk + 4)
            let qs = blk + 8
            for j in 0 ..< 16 {
                let byte = UInt32(qs[j])
                let lo = (byte & 0x0F) | ((qh >> UInt32(j)) & 1) << 4
                let hi = (byte >> 4) | ((qh >> UInt32(j + 16)) & 1) << 4
                out[j] = d * Float(lo) + m
                out[j + 16] = d * Float(hi) + m
            }
        }
    }

    static func decodeQ8_0(_ src: UnsafePointer<UInt8>, blocks: Int, into dst: UnsafeMutablePointer<Float>) {
        for b in 0 ..< blocks {
            let blk = src + b * 34
            let out = dst + b * 32
            let d = f16(blk, 0)
            let qs = blk + 2
            for j in 0 ..< 32 {
                out[j] = Float(Int8(bitPattern: qs[j])) * d
            }
        }
    }
}
