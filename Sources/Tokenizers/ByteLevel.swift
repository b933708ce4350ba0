/// GPT-2's byte-to-character table: every byte gets a printable character so byte strings can be vocabulary
/// keys. Bytes `!`..`~`, `¡`..`¬` and `®`..`ÿ` stand for themselves; the other 68 bytes map, in order, to
/// U+0100, U+0101, ... So a space (0x20) is written `Ġ` (U+0120) and a newline (0x0A) `Ċ` (U+010A).
enum ByteLevel {
    /// The character (as a scalar value) for each byte.
    static let scalarForByte: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for b in 0 ..< 256 {
            if (0x21 ... 0x7E).contains(b) || (0xA1 ... 0xAC).contains(b) || (0xAE ... 0xFF).contains(b) {
                table[b] = UInt32(b)
            } else {
                table[b] = next
                next += 1
            }
        }
        return table
    }()

    /// The byte a character stands for, or nil if it is not one of the 256 byte characters.
    static func byte(forScalar v: UInt32) -> UInt8? {
        if v < 256 {
            let b = Int(v)
            if (0x21 ... 0x7E).contains(b) || (0xA1 ... 0xAC).contains(b) || (0xAE ... 0xFF).contains(b) {
                return UInt8(b)
            }
            return nil
        }
        return inverse[v]
    }

    private static let inverse: [UInt32: UInt8] = {
        var map: [UInt32: UInt8] = [:]
        for b in 0 ..< 256 where scalarForByte[b] >= 256 { map[scalarForByte[b]] = UInt8(b) }
        return map
    }()

    /// The byte-level spelling of some bytes.
    static func encode<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var out = String.UnicodeScalarView()
        for b in bytes { out.append(Unicode.Scalar(scalarForByte[Int(b)])!) }
        return String(out)
    }

    /// The bytes a byte-level spelling stands for, or nil if some character is not a byte character.
    static func decode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(text.unicodeScalars.count)
        for s in text.unicodeScalars {
            guard let b = byte(forScalar: s.value) else { return nil }
            out.append(b)
        }
        return out
    }
}
