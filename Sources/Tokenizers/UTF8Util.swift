/// Small UTF-8 helpers that work on byte arrays without building Strings.
enum UTF8Util {
    /// Appends the UTF-8 encoding of a scalar value.
    @inline(__always)
    static func append(_ v: UInt32, to out: inout [UInt8]) {
        if v < 0x80 {
            out.append(UInt8(v))
        } else if v < 0x800 {
            out.append(UInt8(0xC0 | (v >> 6)))
            out.append(UInt8(0x80 | (v & 0x3F)))
        } else if v < 0x10000 {
            out.append(UInt8(0xE0 | (v >> 12)))
            out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (v & 0x3F)))
        } else {
            out.append(UInt8(0xF0 | (v >> 18)))
            out.append(UInt8(0x80 | ((v >> 12) & 0x3F)))
            out.append(UInt8(0x80 | ((v >> 6) & 0x3F)))
            out.append(UInt8(0x80 | (v & 0x3F)))
        }
    }

    /// The scalar values of valid UTF-8 bytes.
    static func scalars(_ bytes: ArraySlice<UInt8>) -> [UInt32] {
        var out: [UInt32] = []
        out.reserveCapacity(bytes.count)
        var i = bytes.startIndex
        let end = bytes.endIndex
        while i < end {
            let b0 = UInt32(bytes[i])
            if b0 < 0x80 {
                out.append(b0); i += 1
            } else if b0 < 0xE0, i + 1 < end {
                out.append((b0 & 0x1F) << 6 | UInt32(bytes[i + 1] & 0x3F)); i += 2
            } else if b0 < 0xF0, i + 2 < end {
                out.append((b0 & 0x0F) << 12 | UInt32(bytes[i + 1] & 0x3F) << 6 | UInt32(bytes[i + 2] & 0x3F)); i += 3
            } else if i + 3 < end {
                out.append(
                    (b0 & 0x07) << 18 | UInt32(bytes[i + 1] & 0x3F) << 12 | UInt32(bytes[i + 2] & 0x3F) << 6
                        | UInt32(bytes[i + 3] & 0x3F))
                i += 4
            } else {
                out.append(0xFFFD); i += 1
            }
        }
        return out
    }

    /// Length of the complete UTF-8 sequence that starts with `b`, or 0 if `b` cannot start one.
    @inline(__always)
    static func sequenceLength(_ b: UInt8) -> Int {
        switch b {
        case 0x00 ... 0x7F: return 1
        case 0xC2 ... 0xDF: return 2
        case 0xE0 ... 0xEF: return 3
        case 0xF0 ... 0xF4: return 4
        default: return 0
        }
    }

    /// Whether `bytes[i..<i+len]` (already known to start with a lead byte of that length) is a valid
    /// sequence: right continuation bytes, no overlong form, no surrogate, nothing above U+10FFFF.
    /// Returns the number of leading bytes that are a valid prefix when the sequence is cut short.
    static func validPrefix(_ bytes: UnsafeBufferPointer<UInt8>, _ i: Int, _ len: Int) -> Int {
        let b0 = bytes[i]
        var k = 1
        while k < len, i + k < bytes.count {
            let b = bytes[i + k]
            var lo: UInt8 = 0x80, hi: UInt8 = 0xBF
            if k == 1 {
                if b0 == 0xE0 { lo = 0xA0 }
                if b0 == 0xED { hi = 0x9F }
                if b0 == 0xF0 { lo = 0x90 }
                if b0 == 0xF4 { hi = 0x8F }
            }
            guard b >= lo, b <= hi else { return k }
            k += 1
        }
        return k
    }

    /// Offset of the first byte that is not part of valid UTF-8, or nil when all of it is valid.
    static func firstInvalidOffset(_ bytes: [UInt8]) -> Int? {
        bytes.withUnsafeBufferPointer { buf in
            var i = 0
            while i < buf.count {
                let len = sequenceLength(buf[i])
                guard len > 0 else { return i }
                if len == 1 { i += 1; continue }
                guard validPrefix(buf, i, len) == len, i + len <= buf.count else { return i }
                i += len
            }
            return nil
        }
    }
}
