import Numerics

/// Decoders from GGUF tensor storage to fp32.
public enum Dequantize {
    /// Decodes `count` elements of `type` from `src` into `dst`. `count` must be a whole number of blocks
    /// and `src` must hold exactly their bytes.
    public static func decode(_ type: GGMLType, _ src: UnsafeRawBufferPointer, count: Int,
                              into dst: UnsafeMutablePointer<Float>) throws {
        guard let need = type.byteCount(elements: count), need <= src.count else {
            throw ModelFileError("\(type.name): \(src.count) bytes cannot hold \(count) elements")
        }
        switch type {
        case .f32:
            for i in 0 ..< count { dst[i] = Float(bitPattern: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) }
        case .f16:
            for i in 0 ..< count { dst[i] = Half.f16ToFloat(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
        case .bf16:
            for i in 0 ..< count { dst[i] = Half.bf16ToFloat(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
        default:
            throw ModelFileError("tensor type \(type.name) is not supported yet")
        }
    }
}
