import Foundation

/// Which rule found a completion's final answer (`extractAnswer` tries them in this order).
public enum ExtractionRule: String, Sendable, Equatable, CaseIterable {
    /// The text after the last `####` (on its line).
    case hashes
    /// The content of the last `\boxed{...}` (braces balanced; `\fbox` too).
    case boxed
    /// The text after the last "the answer is", "answer is", "final answer:" or "answer:" (any case).
    case answerPhrase = "answer_phrase"
    /// The last number anywhere in the completion.
    case lastNumber = "last_number"
}

/// A completion's final answer.
public struct ExtractedAnswer: Sendable, Equatable {
    public var rule: ExtractionRule
    /// The answer as written: the number's characters when one was found, else the rule's whole (trimmed) text.
    public var text: String
    /// The exact value when the text holds a number.
    public var value: NumericAnswer?

    public init(rule: ExtractionRule, text: String, value: NumericAnswer?) {
        self.rule = rule
        self.text = text
        self.value = value
    }
}

/// Finds the final answer of a completion, trying in order: the last `#### N`, the last `\boxed{N}`, the last
/// "the answer is N" / "final answer: N" (case-insensitive), the last number in the text. For the first three,
/// the answer is the first number in the rule's text (so units, `$`, `%`, `**` and trailing words are ignored);
/// a rule whose text holds no number still answers with its text (a non-numeric answer), unless that text is
/// empty, in which case the next rule is tried. LaTeX is simplified first (`\frac{a}{b}` → a/b, `\text{…}` → …,
/// `\$`, `\%`, `\!`, `\,` and `{,}` removed or unescaped).
public func extractAnswer(_ completion: String) -> ExtractedAnswer? {
    if let tail = AnswerText.afterLast("####", in: completion), let found = AnswerText.answer(in: tail, rule: .hashes) {
        return found
    }
    if let content = AnswerText.lastBoxed(in: completion), let found = AnswerText.answer(in: content, rule: .boxed) {
        return found
    }
    if let tail = AnswerText.afterLastAnswerPhrase(in: completion), let found = AnswerText.answer(in: tail, rule: .answerPhrase) {
        return found
    }
    if let last = NumberScanner.numbers(in: AnswerText.plain(completion)).last {
        return ExtractedAnswer(rule: .lastNumber, text: last.text, value: last.value)
    }
    return nil
}

/// Text helpers for answer extraction.
public enum AnswerText {
    /// The rest of the line after the last occurrence of `marker`, or nil.
    static func afterLast(_ marker: String, in text: String) -> String? {
        guard let range = text.range(of: marker, options: .backwards) else { return nil }
        return firstLine(text[range.upperBound...])
    }

    static func firstLine(_ text: Substring) -> String {
        String(text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
    }

    /// The answer in a rule's text: its first number, else the text itself; nil for blank text.
    static func answer(in text: String, rule: ExtractionRule) -> ExtractedAnswer? {
        let plain = AnswerText.plain(text)
        if let first = NumberScanner.numbers(in: plain).first {
            return ExtractedAnswer(rule: rule, text: first.text, value: first.value)
        }
        let trimmed = normalizedText(plain)
        return trimmed.isEmpty ? nil : ExtractedAnswer(rule: rule, text: trimmed, value: nil)
    }

    /// The content of the last `\boxed{...}` or `\fbox{...}` (nested braces balanced), or nil.
    static func lastBoxed(in text: String) -> String? {
        let a = text.range(of: "\\boxed{", options: .backwards)
        let b = text.range(of: "\\fbox{", options: .backwards)
        let open: Range<String.Index>
        switch (a, b) {
        case let (x?, y?): open = x.lowerBound > y.lowerBound ? x : y
        case let (x?, nil): open = x
        case let (nil, y?): open = y
        default: return nil
        }
        var depth = 1
        var i = open.upperBound
        while i < text.endIndex {
            if text[i] == "{" { depth += 1 }
            if text[i] == "}" {
                depth -= 1
                if depth == 0 { return String(text[open.upperBound ..< i]) }
            }
            i = text.index(after: i)
        }
        return nil  // unclosed
    }

    /// "the answer is", "final answer is" and "final answer:" end in one of these.
    static let answerPhrases = ["answer is", "answer:"]

    /// The text after the last answer phrase (case-insensitive): the rest of its line, or the next non-blank line
    /// when the phrase ends its line ("The final answer is:\n\n42"). Markdown bold markers `*` are dropped.
    static func afterLastAnswerPhrase(in text: String) -> String? {
        var best: Range<String.Index>?
        for phrase in answerPhrases {
            if let r = text.range(of: phrase, options: [.caseInsensitive, .backwards]),
               best == nil || r.upperBound > best!.upperBound {
                best = r
            }
        }
        guard let best else { return nil }
        let rest = text[best.upperBound...]
        let blank = CharacterSet(charactersIn: " \t:*")
        let line = firstLine(rest).replacingOccurrences(of: "*", with: "")
        if !line.trimmingCharacters(in: blank).isEmpty { return line }
        for next in rest.split(separator: "\n").dropFirst() {
            let t = next.replacingOccurrences(of: "*", with: "")
            if !t.trimmingCharacters(in: blank).isEmpty { return t }
        }
        return nil
    }

    /// Simplifies LaTeX in answer text: `\frac{a}{b}` (also `\dfrac`, `\tfrac`) → a/b; `\text{x}`, `\textbf{x}`,
    /// `\mathrm{x}`, `\mbox{x}` → x; `\$` → $, `\%` → %; `\!`, `\,`, `\;`, `\left`, `\right` and `{,}` removed.
    public static func plain(_ text: String) -> String {
        guard text.contains("\\") || text.contains("{,}") else { return text }
        var s = text.replacingOccurrences(of: "{,}", with: ",")
        for (from, to) in [("\\$", "$"), ("\\%", "%"), ("\\!", ""), ("\\,", ""), ("\\;", ""), ("\\left", ""), ("\\right", "")] {
            s = s.replacingOccurrences(of: from, with: to)
        }
        for command in ["\\dfrac", "\\tfrac", "\\frac"] {
            while let r = s.range(of: command + "{"),
                  let (numerator, afterNumerator) = braced(s, from: r.upperBound),
                  afterNumerator < s.endIndex, s[afterNumerator] == "{",
                  let (denominator, end) = braced(s, from: s.index(after: afterNumerator)) {
                s.replaceSubrange(r.lowerBound ..< end, with: "\(numerator)/\(denominator)")
            }
        }
        for command in ["\\textbf", "\\text", "\\mathrm", "\\mbox"] {
            while let r = s.range(of: command + "{"), let (content, end) = braced(s, from: r.upperBound) {
                s.replaceSubrange(r.lowerBound ..< end, with: content)
            }
        }
        return s
    }

    /// The content from `start` (just after an opening brace) to its matching closing brace, and the index after
    /// that brace; nil when unbalanced.
    private static func braced(_ s: String, from start: String.Index) -> (String, String.Index)? {
        var depth = 1
        var i = start
        while i < s.endIndex {
            if s[i] == "{" { depth += 1 }
            if s[i] == "}" {
                depth -= 1
                if depth == 0 { return (String(s[start ..< i]), s.index(after: i)) }
            }
            i = s.index(after: i)
        }
        return nil
    }

    /// Lowercased, trimmed of spaces and a final period, inner whitespace collapsed: how non-numeric answers compare.
    public static func normalizedText(_ text: String) -> String {
        var t = text.lowercased().split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
        while t.hasSuffix(".") { t.removeLast() }
        return t.trimmingCharacters(in: .whitespaces)
    }
}
