import Foundation
import ModelFiles

extension JinjaBuiltins {
    private static func kwarg(_ kwargs: [(String, JinjaValue)], _ name: String) -> JinjaValue? {
        kwargs.first { $0.0 == name }?.1
    }

    /// `value | name(args)`.
    static func filter(
        _ name: String, _ v: JinjaValue, _ args: [JinjaValue], _ kwargs: [(String, JinjaValue)], line: Int,
        evaluator: JinjaEvaluator
    ) throws -> JinjaValue {
        func arg(_ i: Int, _ key: String) -> JinjaValue? { i < args.count ? args[i] : kwarg(kwargs, key) }
        func str() throws -> String {
            switch v {
            case .string(let s): return s
            case .undefined: return ""
            default: return v.pythonString
            }
        }
        func list(_ what: String) throws -> [JinjaValue] { try iterate(v, what: "filter \(what)") }
        func err(_ m: String) -> TokenizerError { TokenizerError("chat template line \(line): filter \(name): \(m)") }
        func attributeOf(_ item: JinjaValue, _ path: String) -> JinjaValue {
            path.split(separator: ".").reduce(item) { acc, part in
                if let i = Int(part), case .array = acc { return (try? self.item(acc, .int(i), line: line)) ?? .undefined(String(part)) }
                return attribute(acc, String(part))
            }
        }
        switch name {
        case "trim":
            return .string(strip(try str(), arg(0, "chars").flatMap { if case .string(let c) = $0 { return c } else { return nil } },
                                 leading: true, trailing: true))
        case "length", "count":
            switch v {
            case .string(let s): return .int(s.unicodeScalars.count)
            case .array(let a): return .int(a.count)
            case .dict(let d): return .int(d.count)
            case .undefined: return .int(0)
            default: throw err("a \(v.typeName) has no length")
            }
        case "upper": return .string(try str().uppercased())
        case "lower": return .string(try str().lowercased())
        case "capitalize": return .string(capitalize(try str()))
        case "title": return .string(titleCase(try str()))
        case "string": return .string(v.pythonString)
        case "safe", "escape_none": return v
        case "e", "escape":
            let s = try str()
            return .string(s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
                .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&#34;")
                .replacingOccurrences(of: "'", with: "&#39;"))
        case "default", "d":
            let fallback = arg(0, "default_value") ?? .string("")
            let boolean = arg(1, "boolean")?.isTruthy ?? false
            if v.isUndefined || (boolean && !v.isTruthy) { return fallback }
            return v
        case "join":
            let sep = arg(0, "d").map(\.pythonString) ?? ""
            var items = try list(name)
            if let attr = arg(1, "attribute") { items = items.map { attributeOf($0, attr.pythonString) } }
            return .string(items.map(\.pythonString).joined(separator: sep))
        case "first":
            return try list(name).first ?? .undefined("first of an empty sequence")
        case "last":
            return try list(name).last ?? .undefined("last of an empty sequence")
        case "list":
            return .array(try list(name))
        case "items":
            switch v {
            case .dict(let d): return .array(d.items.map { .array([$0.0, $0.1]) })
            case .undefined, .none: return .array([])
            default: throw err("needs a mapping, not \(v.typeName)")
            }
        case "dictsort":
            guard case .dict(let d) = v else { throw err("needs a mapping, not \(v.typeName)") }
            let byValue = arg(2, "by")?.pythonString == "value"
            let reverse = arg(1, "reverse")?.isTruthy ?? false
            var pairs = d.items
            try pairs.sort { a, b in
                let (x, y) = byValue ? (a.1, b.1) : (a.0, b.0)
                return try less(lowerIfString(x), lowerIfString(y), line: line)
            }
            if reverse { pairs.reverse() }
            return .array(pairs.map { .array([$0.0, $0.1]) })
        case "reverse":
            if case .string(let s) = v { return .string(String(s.reversed())) }
            return .array(try list(name).reversed())
        case "sort":
            let reverse = arg(0, "reverse")?.isTruthy ?? false
            let caseSensitive = arg(1, "case_sensitive")?.isTruthy ?? false
            let attr = arg(2, "attribute")?.pythonString
            var items = try list(name)
            try items.sort { a, b in
                var x = attr.map { attributeOf(a, $0) } ?? a
                var y = attr.map { attributeOf(b, $0) } ?? b
                if !caseSensitive { x = lowerIfString(x); y = lowerIfString(y) }
                return try less(x, y, line: line)
            }
            if reverse { items.reverse() }
            return .array(items)
        case "unique":
            var out: [JinjaValue] = []
            for x in try list(name) where !out.contains(where: { equal(lowerIfString($0), lowerIfString(x)) }) { out.append(x) }
            return .array(out)
        case "sum":
            var total: JinjaValue = arg(1, "start") ?? .int(0)
            let attr = arg(0, "attribute")?.pythonString
            for x in try list(name) { total = try binary("+", total, attr.map { attributeOf(x, $0) } ?? x, line: line) }
            return total
        case "min", "max":
            let items = try list(name)
            guard var best = items.first else { return .undefined("\(name) of an empty sequence") }
            for x in items.dropFirst() {
                let better = name == "min" ? try less(lowerIfString(x), lowerIfString(best), line: line)
                    : try less(lowerIfString(best), lowerIfString(x), line: line)
                if better { best = x }
            }
            return best
        case "map":
            let items = try list(name)
            if let attr = kwarg(kwargs, "attribute") {
                let dflt = kwarg(kwargs, "default")
                return .array(items.map { item in
                    let x = attributeOf(item, attr.pythonString)
                    return x.isUndefined ? (dflt ?? x) : x
                })
            }
            guard case .string(let filterName)? = args.first else { throw err("map() needs a filter name or attribute=") }
            return .array(try items.map { try evaluator.applyFilter(filterName, $0, Array(args.dropFirst()), line: line) })
        case "select", "reject":
            let items = try list(name)
            let keep = name == "select"
            return .array(try items.filter { item in
                guard case .string(let testName)? = args.first else { return item.isTruthy == keep }
                return try test(testName, item, Array(args.dropFirst()), line: line) == keep
            })
        case "selectattr", "rejectattr":
            let items = try list(name)
            guard case .string(let attr)? = args.first else { throw err("needs an attribute name") }
            let keep = name == "selectattr"
            return .array(try items.filter { item in
                let x = attributeOf(item, attr)
                guard args.count > 1, case .string(let testName) = args[1] else { return x.isTruthy == keep }
                return try test(testName, x, Array(args.dropFirst(2)), line: line) == keep
            })
        case "tojson":
            var indent: Int?
            if let i = arg(0, "indent"), case .int(let n) = i {
                guard n <= 100 else { throw err("indent \(n) is too large") }
                indent = max(0, n)
            }
            let sortKeys = kwarg(kwargs, "sort_keys")?.isTruthy ?? false
            return .string(try toJSON(v, indent: indent, sortKeys: sortKeys, level: 0, line: line))
        case "int":
            switch v {
            case .int: return v
            case .double(let d): return exactInt(d).map { .int($0) } ?? (arg(0, "default") ?? .int(0))
            case .bool(let b): return .int(b ? 1 : 0)
            case .string(let s):
                if let i = Int(s.trimmingCharacters(in: .whitespaces)) { return .int(i) }
                if let d = Double(s.trimmingCharacters(in: .whitespaces)), let i = exactInt(d) { return .int(i) }
                return arg(0, "default") ?? .int(0)
            default: return arg(0, "default") ?? .int(0)
            }
        case "float":
            if let d = number(v) { return .double(d) }
            if case .string(let s) = v, let d = Double(s.trimmingCharacters(in: .whitespaces)) { return .double(d) }
            return arg(0, "default") ?? .double(0)
        case "abs":
            switch v {
            case .int(let i): return i == Int.min ? .double(-Double(i)) : .int(abs(i))
            case .double(let d): return .double(abs(d))
            default: throw err("needs a number")
            }
        case "round":
            guard let d = number(v) else { throw err("needs a number") }
            var precision = 0
            if let p = arg(0, "precision"), case .int(let n) = p { precision = n }
            let method = arg(1, "method")?.pythonString ?? "common"
            let scale = pow(10.0, Double(precision))
            let rule: FloatingPointRoundingRule = method == "ceil" ? .up : method == "floor" ? .down : .toNearestOrEven
            return .double((d * scale).rounded(rule) / scale)
        case "replace":
            guard let old = arg(0, "old"), let new = arg(1, "new") else { throw err("needs old and new strings") }
            var count = -1
            if let c = arg(2, "count"), case .int(let n) = c { count = n }
            return .string(replace(try str(), old.pythonString, new.pythonString, count: count))
        case "truncate":
            let s = try str()
            var length = 255
            if let l = arg(0, "length"), case .int(let n) = l { length = n }
            let killwords = arg(1, "killwords")?.isTruthy ?? false
            let end = arg(2, "end")?.pythonString ?? "..."
            var leeway = 5
            if let l = arg(3, "leeway"), case .int(let n) = l { leeway = n }
            let chars = Array(s.unicodeScalars)
            if chars.count <= length + leeway { return .string(s) }
            let cut = max(0, length - end.count)
            if killwords { return .string(String(String.UnicodeScalarView(chars[..<cut])) + end) }
            var head = String(String.UnicodeScalarView(chars[..<cut]))
            if let space = head.lastIndex(of: " ") { head = String(head[..<space]) }
            return .string(head + end)
        case "indent":
            var width = "    "
            if let w = arg(0, "width") {
                if case .int(let n) = w {
                    guard n <= 10_000 else { throw err("width \(n) is too large") }
                    width = String(repeating: " ", count: max(0, n))
                } else {
                    width = w.pythonString
                }
            }
            let first = arg(1, "first")?.isTruthy ?? false
            let blank = arg(2, "blank")?.isTruthy ?? false
            var lines = ExactString.split(try str(), by: "\n")
            for i in lines.indices where (i > 0 || first) && (blank || !lines[i].isEmpty) { lines[i] = width + lines[i] }
            return .string(lines.joined(separator: "\n"))
        case "center":
            var width = 80
            if let w = arg(0, "width"), case .int(let n) = w { width = n }
            guard width <= 1_000_000 else { throw err("width \(width) is too large") }
            let s = try str()
            let pad = max(0, width - s.unicodeScalars.count)
            let left = pad / 2 + (pad % 2 == 1 && width % 2 == 1 ? 1 : 0)
            return .string(String(repeating: " ", count: left) + s + String(repeating: " ", count: pad - left))
        case "wordcount":
            return .int(try str().split(whereSeparator: { $0.isWhitespace }).count)
        case "batch":
            guard let c = arg(0, "linecount"), case .int(let n) = c, n > 0 else { throw err("needs a positive size") }
            let items = try list(name)
            return .array(stride(from: 0, to: items.count, by: n).map { .array(Array(items[$0 ..< min($0 + n, items.count)])) })
        case "attr":
            return attribute(v, arg(0, "name")?.pythonString ?? "")
        default:
            throw TokenizerError("chat template line \(line): unknown filter '\(name)'")
        }
    }

    static func lowerIfString(_ v: JinjaValue) -> JinjaValue {
        if case .string(let s) = v { return .string(s.lowercased()) }
        return v
    }

    /// `value is name(args)`.
    static func test(_ name: String, _ v: JinjaValue, _ args: [JinjaValue], line: Int) throws -> Bool {
        func other() throws -> JinjaValue {
            guard let a = args.first else { throw TokenizerError("chat template line \(line): test '\(name)' needs an argument") }
            return a
        }
        switch name {
        case "defined": return !v.isUndefined
        case "undefined": return v.isUndefined
        case "none": if case .none = v { return true } else { return false }
        case "string": if case .string = v { return true } else { return false }
        case "number": switch v { case .int, .double: return true; default: return false }
        case "integer": if case .int = v { return true } else { return false }
        case "float": if case .double = v { return true } else { return false }
        case "boolean": if case .bool = v { return true } else { return false }
        case "true": if case .bool(true) = v { return true } else { return false }
        case "false": if case .bool(false) = v { return true } else { return false }
        case "mapping": switch v { case .dict, .namespace: return true; default: return false }
        case "sequence": switch v { case .array, .string, .dict: return true; default: return false }
        case "iterable": switch v { case .array, .string, .dict: return true; default: return false }
        case "callable": if case .function = v { return true } else { return false }
        case "odd", "even":
            guard let i = int(v) else { throw TokenizerError("chat template line \(line): test '\(name)' needs an integer") }
            return (i & 1 == 1) == (name == "odd")
        case "divisibleby":
            guard let i = int(v), let d = int(try other()), d != 0 else {
                throw TokenizerError("chat template line \(line): test 'divisibleby' needs non-zero integers")
            }
            return i % d == 0
        case "eq", "equalto", "==": return equal(v, try other())
        case "sameas":
            // Python `is`: same kind and value for scalars (so 0 is not false).
            let o = try other()
            switch (v, o) {
            case (.none, .none): return true
            case (.bool(let a), .bool(let b)): return a == b
            case (.int(let a), .int(let b)): return a == b
            case (.string(let a), .string(let b)): return a == b
            default: return false
            }
        case "ne", "!=": return !equal(v, try other())
        case "lt", "lessthan", "<": return try less(v, try other(), line: line)
        case "gt", "greaterthan", ">": return try less(try other(), v, line: line)
        case "le", "<=": return try !less(try other(), v, line: line)
        case "ge", ">=": return try !less(v, try other(), line: line)
        case "in": return try contains(try other(), v, line: line)
        case "lower": if case .string(let s) = v { return s == s.lowercased() } else { return false }
        case "upper": if case .string(let s) = v { return s == s.uppercased() } else { return false }
        default: throw TokenizerError("chat template line \(line): unknown test '\(name)'")
        }
    }

    /// Python's `json.dumps(value, ensure_ascii=False, indent=indent, sort_keys=...)`.
    static func toJSON(_ v: JinjaValue, indent: Int?, sortKeys: Bool, level: Int, line: Int) throws -> String {
        let (itemSep, keySep) = indent == nil ? (", ", ": ") : (",", ": ")
        func wrap(_ open: String, _ parts: [String], _ close: String) -> String {
            guard let indent, !parts.isEmpty else { return open + parts.joined(separator: itemSep) + close }
            let inner = "\n" + String(repeating: " ", count: indent * (level + 1))
            let outer = "\n" + String(repeating: " ", count: indent * level)
            return open + inner + parts.joined(separator: itemSep + inner) + outer + close
        }
        switch v {
        case .undefined, .none: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .double(let d):
            if d.isNaN { return "NaN" }
            if d.isInfinite { return d > 0 ? "Infinity" : "-Infinity" }
            return JinjaValue.formatDouble(d)
        case .string(let s): return JSONText.quoted(s)
        case .array(let a):
            return wrap("[", try a.map { try toJSON($0, indent: indent, sortKeys: sortKeys, level: level + 1, line: line) }, "]")
        case .dict(let d):
            var items = d.items
            if sortKeys { items.sort { $0.0.pythonString < $1.0.pythonString } }
            return wrap("{", try items.map { k, x in
                let key: String
                switch k {
                case .string(let s): key = s
                case .none: key = "null"
                case .bool(let b): key = b ? "true" : "false"
                default: key = k.pythonString
                }
                return JSONText.quoted(key) + keySep + (try toJSON(x, indent: indent, sortKeys: sortKeys, level: level + 1, line: line))
            }, "}")
        case .namespace(let ns):
            return try toJSON(.dict(ns.attributes), indent: indent, sortKeys: sortKeys, level: level, line: line)
        case .function:
            throw TokenizerError("chat template line \(line): tojson: a function is not JSON serializable")
        }
    }

}
