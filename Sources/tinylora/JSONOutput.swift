/// Compact JSON text for the CLI's machine-readable output (no spaces, keys in the documented order).
enum JSON {
    /// A JSON string literal: quotes, backslash and control characters escaped, everything else as UTF-8.
    static func string(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if u.value < 0x20 || u.value == 0x7F {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }

    static func ints(_ values: [Int]) -> String {
        "[" + values.map(String.init).joined(separator: ",") + "]"
    }

    /// The shortest decimal that reads back as the same Float; null for NaN and infinities (not JSON numbers).
    static func number(_ x: Float) -> String {
        x.isFinite ? "\(x)" : "null"
    }

    static func number(_ x: Double) -> String {
        x.isFinite ? "\(x)" : "null"
    }

    /// An object from (key, already-encoded value) pairs, in order.
    static func object(_ fields: [(String, String)]) -> String {
        "{" + fields.map { string($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
    }
}
