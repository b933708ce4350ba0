/// Element types of the safetensors format, in the upstream crate's declaration order (which its writer
/// uses to sort tensors: larger-alignment types first).
public enum SafetensorsDType: String, CaseIterable, Sendable {
    case bool = "BOOL"
    case f4 = "F4"
    case f6_e2m3 = "F6_E2M3"
    case f6_e3m2 = "F6_E3M2"
    case u8 = "U8"
    case i8 = "I8"
    case f8_e5m2 = "F8_E5M2"
    case f8_e4m3 = "F8_E4M3"
    case f8_e8m0 = "F8_E8M0"
    case f8_e4m3fnuz = "F8_E4M3FNUZ"
    case f8_e5m2fnuz = "F8_E5M2FNUZ"
    case i16 = "I16"
    case u16 = "U16"
    case f16 = "F16"
    case bf16 = "BF16"
    case i32 = "I32"
    case u32 = "U32"
    case f32 = "F32"
    case c64 = "C64"
    case f64 = "F64"
    case i64 = "I64"
    case u64 = "U64"

    /// Bits per element (sub-byte types pack elements; a tensor's total bit count must be a multiple of 8).
    public var bitSize: Int {
        switch self {
        case .f4: 4
        case .f6_e2m3, .f6_e3m2: 6
        case .bool, .u8, .i8, .f8_e5m2, .f8_e4m3, .f8_e8m0, .f8_e4m3fnuz, .f8_e5m2fnuz: 8
        case .i16, .u16, .f16, .bf16: 16
        case .i32, .u32, .f32: 32
        case .c64, .f64, .i64, .u64: 64
        }
    }

    /// Position in the upstream declaration order.
    var order: Int { Self.allCases.firstIndex(of: self)! }

    /// Bytes for `elements` elements, or nil on overflow or when the bits do not fill whole bytes.
    public func byteCount(elements: Int) -> Int? {
        let (bits, overflow) = elements.multipliedReportingOverflow(by: bitSize)
        guard !overflow, bits % 8 == 0 else { return nil }
        return bits / 8
    }
}
