/// JSON string literals written the way serde_json and Python's `json.dumps(..., ensure_ascii=False)` write them:
/// `"` and `\` escaped, the short forms \b \f \n \r \t, other control characters (< U+0020) as `\u00xx` with
/// lowercase hex, everything else (non-ASCII included) verbatim. Used for safetensors headers, Jinja's `tojson`
/// and the CLI's machine-readable output, so all three agree byte for byte.
public enum JSONText {
    public static func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}
