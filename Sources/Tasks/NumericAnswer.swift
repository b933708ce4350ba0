/// An exact number read from answer text: `numerator / denominator` in lowest terms (denominator > 0), so that
/// "18", "18.0", "$18", "1,8"… compare by value: 18 = 18.00 = 36/2, 0.5 = 1/2, −3 = -3.
///
/// Accepted spellings (see `NumberScanner`): an optional sign (`-` or `−`), an optional `$`, digits with optional
/// thousands commas (`1,234,567`: groups of exactly three), an optional decimal part, or a simple fraction `a/b` of
/// integers; a trailing `%` or unit word is ignored by the scanner. Values whose numerator or denominator does not
/// fit in 64 bits are not numeric (they compare as text).
public struct NumericAnswer: Sendable, Equatable, Hashable, CustomStringConvertible {
    public let numerator: Int
    public let denominator: Int

    /// nil when `denominator` is 0.
    public init?(numerator: Int, denominator: Int) {
        guard denominator != 0 else { return nil }
        var n = numerator, d = denominator
        if d < 0 {
            guard n != Int.min, d != Int.min else { return nil }
            n = -n
            d = -d
        }
        let g = NumericAnswer.gcd(n.magnitude, d.magnitude)
        self.numerator = n / Int(g)
        self.denominator = d / Int(g)
    }

    /// The first number in `text` (after LaTeX clean-up), or nil.
    public init?(parsing text: String) {
        guard let first = NumberScanner.numbers(in: AnswerText.plain(text)).first?.value else { return nil }
        self = first
    }

    /// "18", "-3", "1/2" (lowest terms).
    public var description: String { denominator == 1 ? "\(numerator)" : "\(numerator)/\(denominator)" }

    public var isInteger: Bool { denominator == 1 }

    static func gcd(_ a: UInt, _ b: UInt) -> UInt {
        var (x, y) = (a, b)
        while y != 0 { (x, y) = (y, x % y) }
        return x == 0 ? 1 : x
    }
}

/// Finds the numbers in a text. A number is: an optional `-`/`−` sign (only when not right after a digit, so
/// "16-3" is 16 and 3), an optional `$`, then digits — with `,` allowed between groups of exactly three digits —
/// then either a decimal part `.ddd` or a fraction `/ddd` (not both). A `.` not followed by a digit ends the number
/// ("12." is 12). Only ASCII digits count.
public enum NumberScanner {
    public struct Match: Sendable, Equatable {
        /// The characters of the number as written (sign, `$` and commas included).
        public var text: String
        /// nil when it overflows 64 bits or divides by zero.
        public var value: NumericAnswer?
    }

    public static func numbers(in text: String) -> [Match] {
        let s = Array(text.unicodeScalars)
        var out: [Match] = []
        var i = 0
        func isDigit(_ k: Int) -> Bool { k >= 0 && k < s.count && s[k].value >= 0x30 && s[k].value <= 0x39 }
        func isMinus(_ c: Unicode.Scalar) -> Bool { c == "-" || c == "\u{2212}" }
        while i < s.count {
            let start = i
            var negative = false
            var j = i
            if isMinus(s[j]) && !isDigit(j - 1) { negative = true; j += 1 }
            if j < s.count && s[j] == "$" {
                j += 1
                if !negative && j < s.count && isMinus(s[j]) { negative = true; j += 1 }  // "$-5"
            }
            guard isDigit(j) else { i += 1; continue }
            var digits = ""
            while isDigit(j) {
                digits.unicodeScalars.append(s[j])
                j += 1
                // Thousands separator: "," followed by exactly three digits and no fourth.
                if j < s.count && s[j] == "," && isDigit(j + 1) && isDigit(j + 2) && isDigit(j + 3) && !isDigit(j + 4) {
                    j += 1
                }
            }
            var value: NumericAnswer?
            if j + 1 < s.count && s[j] == "." && isDigit(j + 1) {
                var fraction = ""
                j += 1
                while isDigit(j) { fraction.unicodeScalars.append(s[j]); j += 1 }
                value = decimal(digits, fraction, negative: negative)
            } else if j + 1 < s.count && s[j] == "/" && isDigit(j + 1) {
                var denominator = ""
                j += 1
                while isDigit(j) { denominator.unicodeScalars.append(s[j]); j += 1 }
                if let n = Int(digits), let d = Int(denominator) { value = NumericAnswer(numerator: negative ? -n : n, denominator: d) }
            } else if let n = Int(digits) {
                value = NumericAnswer(numerator: negative ? -n : n, denominator: 1)
            }
            var written = ""
            written.unicodeScalars.append(contentsOf: s[start ..< j])
            out.append(Match(text: written, value: value))
            i = j
        }
        return out
    }

    /// digits.fraction as an exact fraction; nil on overflow.
    static func decimal(_ digits: String, _ fraction: String, negative: Bool) -> NumericAnswer? {
        let trimmed = String(fraction.reversed().drop(while: { $0 == "0" }).reversed())
        guard trimmed.count <= 18, let whole = Int(digits), let part = trimmed.isEmpty ? 0 : Int(trimmed) else { return nil }
        var scale = 1
        for _ in 0 ..< trimmed.count { scale *= 10 }
        let (scaled, o1) = whole.multipliedReportingOverflow(by: scale)
        let (sum, o2) = scaled.addingReportingOverflow(part)
        guard !o1, !o2 else { return nil }
        return NumericAnswer(numerator: negative ? -sum : sum, denominator: scale)
    }
}
