/// Conversions between fp32 and the two 16-bit float formats found in model files.
///
/// - IEEE half (`F16`): Swift's `Float16` does the rounding (round-to-nearest-even).
/// - bfloat16 (`BF16`): the top 16 bits of an fp32. Encoding rounds to nearest even and keeps NaN a NaN.
public enum Half {
    @inline(__always)
    public static func f16ToFloat(_ bits: UInt16) -> Float {
        Float(Float16(bitPattern: bits))
    }

    @inline(__always)
    public static func floatToF16(_ x: Float) -> UInt16 {
        Float16(x).bitPattern
    }

    @inline(__always)
    public static func bf16ToFloat(_ bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    @inline(__always)
    public static func floatToBF16(_ x: Float) -> UInt16 {
        let u = x.bitPattern
        if x.isNaN { return UInt16(truncatingIfNeeded: (u >> 16) | 0x0040) }
        let roundingBias: UInt32 = 0x7FFF + ((u >> 16) & 1)
        return UInt16(truncatingIfNeeded: (u &+ roundingBias) >> 16)
    }
}
