import Numerics

/// Encoders from fp32 to GGUF tensor storage, for export. Bytes are identical to what ggml's reference
/// quantizers and gguf-py write:
/// - F16: IEEE half, round to nearest even (overflow gives ±inf).
/// - BF16: top 16 bits of the fp32, round to nearest even; NaN stays a (quiet) NaN.
/// - Q8_0: per 32-element block, d = max|x| / 127, q = round-half-away-from-zero(x * (1/d)) (q = 0 when d = 0);
///   stored as fp16 d then 32 int8 q.
public enum Quantize {
    /// Types `encode` can write.
    public static let supportedTypes: Set<GGMLType> = [.f32, .f16, .bf16, .q8_0]

    /// Encodes `src` (a whole number of blocks) as `type` into `dst`, which must hold
    /// `type.byteCount(elements: src.count)` bytes.
    public static func encode(_ type: GGMLType, _ src: UnsafeBufferPointer<Float>,
                              into dst: UnsafeMutableRawBufferPointer) throws {
        guard supportedTypes.contains(type) else {
            throw ModelFileError("cannot encode tensors as \(type.name) (supported: F32, F16, BF16, Q8_0)")
        }
        guard let need = type.byteCount(elements: src.count) else {
            throw ModelFileError("\(type.name): \(src.count) elements is not a whole number of \(type.blockSize)-element blocks")
        }
        guard dst.count >= need else {
            throw ModelFileError("\(type.name): output of \(dst.count) bytes cannot hold \(src.count) elements (\(need) bytes needed)")
        }
        if src.isEmpty { return }
        let out = dst.baseAddress!
        switch type {
        case .f32:
            for i in 0 ..< src.count { out.storeBytes(of: src[i].bitPattern.littleEndian, toByteOffset: 4 * i, as: UInt32.self) }
        case .f16:
            for i in 0 ..< src.count { out.storeBytes(of: Half.floatToF16(src[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
        case .bf16:
            for i in 0 ..< src.count { out.storeBytes(of: Half.floatToBF16(src[i]).littleEndian, toByteOffset: 2 * i, as: UInt16.self) }
        case .q8_0:
            try encodeQ8_0(src, into: out)
        default:
            break
        }
    }

    /// Encodes a whole array; returns the stored bytes.
    public static func encode(_ type: GGMLType, _ values: [Float]) throws -> [UInt8] {
        guard let n = type.byteCount(elements: values.count) else {
            throw ModelFileError("\(type.name): \(values.count) elements is not a whole number of \(type.blockSize)-element blocks")
        }
        var out = [UInt8](repeating: 0, count: n)
        try values.withUnsafeBufferPointer { src in
            try out.withUnsafeMutableBytes { try encode(type, src, into: $0) }
        }
        return out
    }

    static func encodeQ8_0(_ src: UnsafeBufferPointer<Float>, into out: UnsafeMutableRawPointer) throws {
        for b in 0 ..< src.count / 32 {
            let x = src.baseAddress! + 32 * b
            let blk = out + 34 * b
            var amax: Float = 0
            for j in 0 ..< 32 {
                guard x[j].isFinite else {
                    throw ModelFileError("Q8_0: cannot quantize non-finite value \(x[j]) at element \(32 * b + j)")
                }
                amax = max(amax, abs(x[j]))
            }
            let d = amax / 127
            let id: Float = d == 0 ? 0 : 1 / d
            blk.storeBytes(of: Half.floatToF16(d).littleEndian, as: UInt16.self)
            for j in 0 ..< 32 {
                let q = (x[j] * id).rounded(.toNearestOrAwayFromZero)
                blk.storeBytes(of: Int8(q), toByteOffset: 2 + j, as: Int8.self)
            }
        }
    }
}
