/// Cuts a template into text and tags, applying Jinja's whitespace rules as transformers configures them:
/// `-` on a tag strips all white space on that side; trim_blocks drops the first newline after a block or
/// comment tag; lstrip_blocks drops spaces and tabs before a block or comment tag that starts its line; one
/// trailing newline of the template is dropped (keep_trailing_newline=False); `\r\n` and `\r` become `\n`.
struct JinjaLexer {
    enum Part {
        case text(String)
        case output([JinjaToken], line: Int)
        case statement([JinjaToken], line: Int)
    }

    static func lex(_ source: String) throws -> [Part] {
        var scalars = Array(source.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n").unicodeScalars)
        if scalars.last == "\n" { scalars.removeLast() }
        let n = scalars.count
        var parts: [Part] = []
        var textStart = 0
        var i = 0
        var line = 1
        let newlines = scalars.indices.filter { scalars[$0] == "\n" }
        func lineAt(_ p: Int) -> Int {
            // 1 + the number of newlines before p (binary search).
            var lo = 0, hi = newlines.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if newlines[mid] < p { lo = mid + 1 } else { hi = mid }
            }
            return lo + 1
        }
        func text(_ a: Int, _ b: Int) -> String {
            var s = String.UnicodeScalarView()
            s.append(contentsOf: scalars[a ..< b])
            return String(s)
        }
        while i + 1 < n {
            guard scalars[i] == "{", scalars[i + 1] == "{" || scalars[i + 1] == "%" || scalars[i + 1] == "#" else {
                i += 1
                continue
            }
            let kind = scalars[i + 1]
            var textEnd = i
            var j = i + 2
            var stripBefore = false
            var noLstrip = false
            if j < n, scalars[j] == "-" { stripBefore = true; j += 1 } else if j < n, scalars[j] == "+" { noLstrip = true; j += 1 }
            if stripBefore {
                while textEnd > textStart, scalars[textEnd - 1].properties.isWhitespace { textEnd -= 1 }
            } else if kind != "{" && !noLstrip {
                var k = textEnd
                while k > textStart, scalars[k - 1] == " " || scalars[k - 1] == "\t" { k -= 1 }
                if k == 0 || scalars[k - 1] == "\n" { textEnd = k }
            }
            if textEnd > textStart { parts.append(.text(text(textStart, textEnd))) }
            line = lineAt(i)
            var stripAfter = false
            var end: Int
            if kind == "#" {
                var k = j
                while k + 1 < n, !(scalars[k] == "#" && scalars[k + 1] == "}") { k += 1 }
                guard k + 1 < n else { throw TokenizerError("chat template line \(line): comment {# is never closed") }
                stripAfter = k > j && scalars[k - 1] == "-"
                end = k + 2
            } else {
                let close: Unicode.Scalar = kind == "{" ? "}" : "%"
                var tokens: [JinjaToken] = []
                var p = j
                var closed = false
                while p < n {
                    if scalars[p].properties.isWhitespace { p += 1; continue }
                    if scalars[p] == "-", p + 2 < n, scalars[p + 1] == close, scalars[p + 2] == "}" {
                        stripAfter = true
                        p += 3
                        closed = true
                        break
                    }
                    if scalars[p] == close, p + 1 < n, scalars[p + 1] == "}" {
                        p += 2
                        closed = true
                        break
                    }
                    tokens.append(try JinjaToken.scan(scalars, &p, line: lineAt(p)))
                }
                guard closed else {
                    throw TokenizerError("chat template line \(line): tag \(kind == "{" ? "{{" : "{%") is never closed")
                }
                end = p
                if kind == "{" {
                    parts.append(.output(tokens, line: line))
                } else {
                    // {% raw %}...{% endraw %}: the text in between is kept as is.
                    if tokens.count == 1, case .name("raw") = tokens[0].kind {
                        var k = end
                        var found = false
                        while k + 1 < n {
                            if scalars[k] == "{", scalars[k + 1] == "%" {
                                var q = k + 2
                                if q < n, scalars[q] == "-" || scalars[q] == "+" { q += 1 }
                                var tks: [JinjaToken] = []
                                while q < n, scalars[q].properties.isWhitespace { q += 1 }
                                if let t = try? JinjaToken.scan(scalars, &q, line: line), case .name("endraw") = t.kind {
                                    tks.append(t)
                                    while q < n, scalars[q].properties.isWhitespace || scalars[q] == "-" { q += 1 }
                                    if q + 1 < n, scalars[q] == "%", scalars[q + 1] == "}" {
                                        parts.append(.text(text(end, k)))
                                        end = q + 2
                                        found = true
                                        break
                                    }
                                }
                            }
                            k += 1
                        }
                        guard found else { throw TokenizerError("chat template line \(line): {% raw %} is never closed") }
                    } else {
                        parts.append(.statement(tokens, line: line))
                    }
                }
            }
            i = end
            if stripAfter {
                while i < n, scalars[i].properties.isWhitespace { i += 1 }
            } else if kind != "{", i < n, scalars[i] == "\n" {
                i += 1  // trim_blocks
            }
            textStart = i
        }
        if textStart < n { parts.append(.text(text(textStart, n))) }
        return parts
    }
}

/// A token inside `{{ }}` or `{% %}`.
struct JinjaToken {
    enum Kind: Equatable {
        case name(String)
        case string(String)
        case int(Int)
        case double(Double)
        case op(String)
    }

    let kind: Kind
    let line: Int

    static let operators = ["//", "**", "==", "!=", "<=", ">=", "+", "-", "*", "/", "%", "~", "<", ">", "=", "(", ")",
                            "[", "]", "{", "}", ",", ".", ":", "|", ";"]

    static func scan(_ s: [Unicode.Scalar], _ p: inout Int, line: Int) throws -> JinjaToken {
        let n = s.count
        let c = s[p]
        if c == "_" || c.properties.isAlphabetic {
            var q = p
            while q < n, s[q] == "_" || s[q].properties.isAlphabetic || ("0" ... "9").contains(s[q]) { q += 1 }
            defer { p = q }
            return JinjaToken(kind: .name(String(String.UnicodeScalarView(s[p ..< q]))), line: line)
        }
        if ("0" ... "9").contains(c) {
            var q = p
            var isFloat = false
            while q < n, ("0" ... "9").contains(s[q]) || s[q] == "_" { q += 1 }
            if q + 1 < n, s[q] == ".", ("0" ... "9").contains(s[q + 1]) {
                isFloat = true
                q += 1
                while q < n, ("0" ... "9").contains(s[q]) { q += 1 }
            }
            if q < n, s[q] == "e" || s[q] == "E" {
                var r = q + 1
                if r < n, s[r] == "+" || s[r] == "-" { r += 1 }
                if r < n, ("0" ... "9").contains(s[r]) {
                    isFloat = true
                    q = r
                    while q < n, ("0" ... "9").contains(s[q]) { q += 1 }
                }
            }
            let text = String(String.UnicodeScalarView(s[p ..< q])).replacingOccurrences(of: "_", with: "")
            p = q
            if isFloat {
                guard let d = Double(text) else { throw TokenizerError("chat template line \(line): bad number \(text)") }
                return JinjaToken(kind: .double(d), line: line)
            }
            guard let i = Int(text) else { throw TokenizerError("chat template line \(line): number \(text) is too large") }
            return JinjaToken(kind: .int(i), line: line)
        }
        if c == "'" || c == "\"" {
            var q = p + 1
            var out = String.UnicodeScalarView()
            while q < n, s[q] != c {
                if s[q] == "\\", q + 1 < n {
                    q += 1
                    switch s[q] {
                    case "n": out.append("\n")
                    case "t": out.append("\t")
                    case "r": out.append("\r")
                    case "0": out.append("\0")
                    case "b": out.append("\u{08}")
                    case "f": out.append("\u{0C}")
                    case "v": out.append("\u{0B}")
                    case "a": out.append("\u{07}")
                    case "\\", "'", "\"": out.append(s[q])
                    case "\n": break
                    case "x", "u", "U":
                        let len = s[q] == "x" ? 2 : (s[q] == "u" ? 4 : 8)
                        guard q + len < n, let v = UInt32(String(String.UnicodeScalarView(s[q + 1 ... q + len])), radix: 16),
                            let u = Unicode.Scalar(v)
                        else { throw TokenizerError("chat template line \(line): bad \\\(s[q]) escape in a string") }
                        out.append(u)
                        q += len
                    default:
                        out.append("\\")
                        out.append(s[q])
                    }
                    q += 1
                } else {
                    out.append(s[q])
                    q += 1
                }
            }
            guard q < n else { throw TokenizerError("chat template line \(line): string literal is never closed") }
            p = q + 1
            return JinjaToken(kind: .string(String(out)), line: line)
        }
        for op in operators {
            let u = Array(op.unicodeScalars)
            if p + u.count <= n, Array(s[p ..< p + u.count]) == u {
                p += u.count
                return JinjaToken(kind: .op(op), line: line)
            }
        }
        throw TokenizerError("chat template line \(line): unexpected character \(String(reflecting: String(c)))")
    }
}
