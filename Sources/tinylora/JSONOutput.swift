import ModelFiles

/// Compact JSON text for the CLI's machine-readable output (no spaces, keys in the documented order).
enum JSON {
    /// A JSON string literal (see `JSONText.quoted`).
    static func string(_ s: String) -> String { JSONText.quoted(s) }

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
