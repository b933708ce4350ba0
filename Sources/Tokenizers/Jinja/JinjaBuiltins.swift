import Foundation

/// Jinja's operators, global functions, attribute/item access and the string/dict methods templates call.
enum JinjaBuiltins {
    static let globals: [String: JinjaValue] = [
        "range": .function(JinjaFunction(name: "range") { args, _ in
            let ints = try args.map { v -> Int in
                guard case .int(let i) = v else { throw TokenizerError("chat template: range() needs integers") }
                return i
            }
            let (start, stop, step): (Int, Int, Int)
            switch ints.count {
            case 1: (start, stop, step) = (0, ints[0], 1)
            case 2: (start, stop, step) = (ints[0], ints[1], 1)
            case 3: (start, stop, step) = (ints[0], ints[1], ints[2])
            default: throw TokenizerError("chat template: range() takes 1 to 3 arguments")
            }
            guard step != 0 else { throw TokenizerError("chat template: range() step must not be zero") }
            let span = step > 0 ? Double(stop) - Double(start) : Double(start) - Double(stop)
            let countEstimate = max(0, (span / Double(abs(Double(step)))).rounded(.up))
            guard countEstimate <= 1_000_000 else {
                throw TokenizerError("chat template: range() of more than 1000000 items is too large")
            }
            let count = Int(countEstimate)
            guard count <= 1_000_000 else { throw TokenizerError("chat template: range() of \(count) items is too large") }
            return .array((0 ..< count).map { .int(start &+ $0 &* step) })
        }),
        "namespace": .function(JinjaFunction(name: "namespace") { args, kwargs in
            var d = JinjaDict()
            for a in args {
                guard case .dict(let initial) = a else { throw TokenizerError("chat template: namespace() takes a dict or keywords") }
                for (k, v) in initial.items { d[k] = v }
            }
            for (k, v) in kwargs { d[k] = v }
            return .namespace(JinjaNamespace(d))
        }),
        "dict": .function(JinjaFunction(name: "dict") { args, kwargs in
            var d = JinjaDict()
            for a in args {
                guard case .dict(let initial) = a else { throw TokenizerError("chat template: dict() takes a dict or keywords") }
                for (k, v) in initial.items { d[k] = v }
            }
            for (k, v) in kwargs { d[k] = v }
            return .dict(d)
        }),
        "raise_exception": .function(JinjaFunction(name: "raise_exception") { args, _ in
            throw TokenizerError("chat template raised an error: \(args.first?.pythonString ?? "")")
        }),
        "strftime_now": .function(JinjaFunction(name: "strftime_now") { args, _ in
            guard case .string(let fmt)? = args.first else { throw TokenizerError("chat template: strftime_now() needs a format") }
            return .string(strftime(fmt, Date()))
        }),
    ]

    static func strftime(_ format: String, _ date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        var out = ""
        var it = format.makeIterator()
        let codes: [Character: String] = ["Y": "yyyy", "m": "MM", "d": "dd", "H": "HH", "M": "mm", "S": "ss", "B": "MMMM",
                                          "b": "MMM", "A": "EEEE", "a": "EEE", "y": "yy", "I": "hh", "p": "a", "j": "DDD"]
        while let c = it.next() {
            guard c == "%", let code = it.next() else { out.append(c); continue }
            if code == "%" { out.append("%"); continue }
            if let pattern = codes[code] {
                f.dateFormat = pattern
                out += f.string(from: date)
            } else {
                out += "%" + String(code)
            }
        }
        return out
    }

    // MARK: access

    static func iterate(_ v: JinjaValue, what: String) throws -> [JinjaValue] {
        switch v {
        case .array(let a): return a
        case .dict(let d): return d.keys
        case .string(let s): return s.unicodeScalars.map { .string(String($0)) }
        case .undefined, .none: return []
        default: throw TokenizerError("chat template: \(what): a \(v.typeName) value is not iterable")
        }
    }

    static func attribute(_ v: JinjaValue, _ name: String) -> JinjaValue {
        switch v {
        case .dict(let d):
            if let x = d[name] { return x }
        case .namespace(let ns):
            if let x = ns.attributes[name] { return x }
        default:
            break
        }
        if let m = method(v, name) { return .function(m) }
        return .undefined(name)
    }

    static func item(_ v: JinjaValue, _ index: JinjaValue, line: Int) throws -> JinjaValue {
        switch (v, index) {
        case (.array(let a), .int(let i)):
            let k = i < 0 ? a.count + i : i
            return k >= 0 && k < a.count ? a[k] : .undefined("[\(i)]")
        case (.string(let s), .int(let i)):
            let chars = Array(s.unicodeScalars)
            let k = i < 0 ? chars.count + i : i
            return k >= 0 && k < chars.count ? .string(String(chars[k])) : .undefined("[\(i)]")
        case (.dict(let d), _):
            if let x = d[index] { return x }
            if case .string(let name) = index, let m = method(v, name) { return .function(m) }
            return .undefined(index.pythonString)
        case (.namespace(let ns), .string(let name)):
            return ns.attributes[name] ?? .undefined(name)
        case (_, .string(let name)):
            if let m = method(v, name) { return .function(m) }
            return .undefined(name)
        default:
            return .undefined("[\(index.pythonRepr)]")
        }
    }

    static func slice(_ v: JinjaValue, _ a: JinjaValue?, _ b: JinjaValue?, _ c: JinjaValue?, line: Int) throws -> JinjaValue {
        func int(_ x: JinjaValue?) throws -> Int? {
            switch x {
            case nil, .none?: return nil
            case .int(let i)?: return i
            default: throw TokenizerError("chat template line \(line): slice indices must be integers")
            }
        }
        let step = try int(c) ?? 1
        guard step != 0 else { throw TokenizerError("chat template line \(line): slice step cannot be zero") }
        func pick<T>(_ items: [T]) throws -> [T] {
            let n = items.count
            func clamp(_ i: Int?, _ dflt: Int) -> Int {
                guard let i else { return dflt }
                let k = i < 0 ? i + n : i
                return step > 0 ? min(max(k, 0), n) : min(max(k, -1), n - 1)
            }
            var out: [T] = []
            if step > 0 {
                var i = clamp(try int(a), 0)
                let end = clamp(try int(b), n)
                while i < end {
                    out.append(items[i])
                    let (next, overflow) = i.addingReportingOverflow(step)
                    if overflow { break }
                    i = next
                }
            } else {
                var i = clamp(try int(a), n - 1)
                let end = clamp(try int(b), -1)
                while i > end {
                    out.append(items[i])
                    let (next, overflow) = i.addingReportingOverflow(step)
                    if overflow { break }
                    i = next
                }
            }
            return out
        }
        switch v {
        case .array(let items): return .array(try pick(items))
        case .string(let s): return .string(String(String.UnicodeScalarView(try pick(Array(s.unicodeScalars)))))
        default: throw TokenizerError("chat template line \(line): cannot slice a \(v.typeName)")
        }
    }

    // MARK: operators

    static func number(_ v: JinjaValue) -> Double? {
        switch v {
        case .int(let i): return Double(i)
        case .double(let d): return d
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }

    /// `Int(d)` truncated, or nil when out of range or NaN.
    static func exactInt(_ d: Double) -> Int? {
        let t = d.rounded(.towardZero)
        guard t.isFinite, t >= -9.2e18, t <= 9.2e18 else { return nil }
        return Int(t)
    }

    static func int(_ v: JinjaValue) -> Int? {
        switch v {
        case .int(let i): return i
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }

    static func equal(_ a: JinjaValue, _ b: JinjaValue) -> Bool {
        switch (a, b) {
        case (.undefined, .undefined), (.none, .none): return true
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy { equal($0, $1) }
        case (.dict(let x), .dict(let y)):
            return x.count == y.count && x.items.allSatisfy { k, v in y[k].map { equal(v, $0) } ?? false }
        default:
            if let x = number(a), let y = number(b) { return x == y }
            return false
        }
    }

    static func less(_ a: JinjaValue, _ b: JinjaValue, line: Int) throws -> Bool {
        switch (a, b) {
        case (.string(let x), .string(let y)): return x.unicodeScalars.lexicographicallyPrecedes(y.unicodeScalars)
        case (.array(let x), .array(let y)):
            for (p, q) in zip(x, y) where !equal(p, q) { return try less(p, q, line: line) }
            return x.count < y.count
        default:
            if let x = number(a), let y = number(b) { return x < y }
            throw TokenizerError("chat template line \(line): cannot compare \(a.typeName) with \(b.typeName)")
        }
    }

    static func contains(_ container: JinjaValue, _ x: JinjaValue, line: Int) throws -> Bool {
        switch container {
        case .string(let s):
            guard case .string(let sub) = x else {
                throw TokenizerError("chat template line \(line): 'in <string>' needs a string on the left, not \(x.typeName)")
            }
            return ExactString.contains(s, sub)
        case .array(let a): return a.contains { equal($0, x) }
        case .dict(let d): return d[x] != nil
        case .undefined, .none: return false
        default: throw TokenizerError("chat template line \(line): 'in' needs a container, not \(container.typeName)")
        }
    }

    static func binary(_ op: String, _ a: JinjaValue, _ b: JinjaValue, line: Int) throws -> JinjaValue {
        func fail() -> TokenizerError {
            TokenizerError("chat template line \(line): unsupported operand types for \(op): \(a.typeName) and \(b.typeName)")
        }
        switch op {
        case "==": return .bool(equal(a, b))
        case "!=": return .bool(!equal(a, b))
        case "<": return .bool(try less(a, b, line: line))
        case ">": return .bool(try less(b, a, line: line))
        case "<=": return .bool(try !less(b, a, line: line))
        case ">=": return .bool(try !less(a, b, line: line))
        case "in": return .bool(try contains(b, a, line: line))
        case "not in": return .bool(!(try contains(b, a, line: line)))
        case "~": return .string(a.pythonString + b.pythonString)
        case "+":
            switch (a, b) {
            case (.string(let x), .string(let y)): return .string(x + y)
            case (.array(let x), .array(let y)): return .array(x + y)
            default: break
            }
        case "%":
            if case .string(let format) = a { return .string(try percentFormat(format, b, line: line)) }
        case "*":
            switch (a, b) {
            case (.string(let s), .int(let n)), (.int(let n), .string(let s)):
                guard n <= 1_000_000 else { throw fail() }
                let unit = Array(s.utf8)
                var bytes: [UInt8] = []
                bytes.reserveCapacity(unit.count * max(0, n))
                for _ in 0 ..< max(0, n) { bytes.append(contentsOf: unit) }
                return .string(String(decoding: bytes, as: UTF8.self))
            case (.array(let x), .int(let n)):
                guard n <= 1_000_000, x.count * max(0, n) <= 1_000_000 else {
                    throw TokenizerError("chat template line \(line): list repetition too large")
                }
                return .array(Array([[JinjaValue]](repeating: x, count: max(0, n)).joined()))
            default: break
            }
        default: break
        }
        if let x = int(a), let y = int(b) {
            switch op {
            case "+": return .int(x &+ y)
            case "-": return .int(x &- y)
            case "*": return .int(x &* y)
            case "/":
                guard y != 0 else { throw TokenizerError("chat template line \(line): division by zero") }
                return .double(Double(x) / Double(y))
            case "//", "%":
                guard y != 0 else { throw TokenizerError("chat template line \(line): division by zero") }
                guard !(x == Int.min && y == -1) else { throw TokenizerError("chat template line \(line): integer overflow") }
                var q = x / y
                if (x % y != 0) && ((x < 0) != (y < 0)) { q -= 1 }
                return .int(op == "//" ? q : x &- q &* y)
            case "**":
                if y >= 0 {
                    // Exponentiation by squaring; past Int's range Python would use a big integer, we use a float.
                    var result = 1, base = x, e = y
                    while e > 0 {
                        if e & 1 == 1 {
                            let (r, o) = result.multipliedReportingOverflow(by: base)
                            if o { return .double(pow(Double(x), Double(y))) }
                            result = r
                        }
                        e >>= 1
                        if e > 0 {
                            let (b, o) = base.multipliedReportingOverflow(by: base)
                            if o { return .double(pow(Double(x), Double(y))) }
                            base = b
                        }
                    }
                    return .int(result)
                }
                return .double(pow(Double(x), Double(y)))
            default: break
            }
        }
        if let x = number(a), let y = number(b) {
            switch op {
            case "+": return .double(x + y)
            case "-": return .double(x - y)
            case "*": return .double(x * y)
            case "/":
                guard y != 0 else { throw TokenizerError("chat template line \(line): division by zero") }
                return .double(x / y)
            case "//": return .double((x / y).rounded(.down))
            case "%": return .double(x - y * (x / y).rounded(.down))
            case "**": return .double(pow(x, y))
            default: break
            }
        }
        throw fail()
    }

    /// Python's `format % values` for %s, %d, %i, %r and %%.
    static func percentFormat(_ format: String, _ values: JinjaValue, line: Int) throws -> String {
        var args: [JinjaValue]
        if case .array(let a) = values { args = a } else { args = [values] }
        var out = ""
        var it = format.unicodeScalars.makeIterator()
        while let c = it.next() {
            guard c == "%" else { out.unicodeScalars.append(c); continue }
            guard let code = it.next() else { throw TokenizerError("chat template line \(line): incomplete % format") }
            if code == "%" { out += "%"; continue }
            guard !args.isEmpty else { throw TokenizerError("chat template line \(line): not enough values for % format") }
            let v = args.removeFirst()
            switch code {
            case "s": out += v.pythonString
            case "r": out += v.pythonRepr
            case "d", "i":
                guard let n = number(v) else { throw TokenizerError("chat template line \(line): %d needs a number") }
                guard let i = exactInt(n) else { throw TokenizerError("chat template line \(line): %d of \(n)") }
                out += String(i)
            default: throw TokenizerError("chat template line \(line): unsupported % format code %\(code)")
            }
        }
        return out
    }

    // MARK: methods

    static func method(_ v: JinjaValue, _ name: String) -> JinjaFunction? {
        switch v {
        case .string(let s): return stringMethod(s, name)
        case .dict(let d): return dictMethod(d, name)
        case .array(let a):
            switch name {
            case "count": return JinjaFunction(name: name) { args, _ in .int(a.filter { equal($0, args.first ?? .none) }.count) }
            case "index":
                return JinjaFunction(name: name) { args, _ in
                    guard let i = a.firstIndex(where: { equal($0, args.first ?? .none) }) else {
                        throw TokenizerError("chat template: list.index(): value is not in the list")
                    }
                    return .int(i)
                }
            default: return nil
            }
        default: return nil
        }
    }

    private static func stringArg(_ args: [JinjaValue], _ i: Int) -> String? {
        guard i < args.count, case .string(let s) = args[i] else { return nil }
        return s
    }

    static func strip(_ s: String, _ chars: String?, leading: Bool, trailing: Bool) -> String {
        let set: (Character) -> Bool = chars.map { cs in { cs.contains($0) } } ?? { $0.isWhitespace }
        var sub = Substring(s)
        if leading { sub = sub.drop(while: set) }
        if trailing { while let last = sub.last, set(last) { sub = sub.dropLast() } }
        return String(sub)
    }

    static func stringMethod(_ s: String, _ name: String) -> JinjaFunction? {
        func f(_ body: @escaping @Sendable ([JinjaValue]) throws -> JinjaValue) -> JinjaFunction {
            JinjaFunction(name: "str.\(name)") { args, _ in try body(args) }
        }
        switch name {
        case "upper": return f { _ in .string(s.uppercased()) }
        case "lower": return f { _ in .string(s.lowercased()) }
        case "title": return f { _ in .string(titleCase(s)) }
        case "capitalize": return f { _ in .string(capitalize(s)) }
        case "strip": return f { a in .string(strip(s, stringArg(a, 0), leading: true, trailing: true)) }
        case "lstrip": return f { a in .string(strip(s, stringArg(a, 0), leading: true, trailing: false)) }
        case "rstrip": return f { a in .string(strip(s, stringArg(a, 0), leading: false, trailing: true)) }
        case "startswith", "endswith":
            return f { a in
                var prefixes: [String] = []
                if case .array(let list)? = a.first { prefixes = list.compactMap { if case .string(let x) = $0 { return x } else { return nil } } }
                if let p = stringArg(a, 0) { prefixes = [p] }
                let b = Array(s.utf8)
                return .bool(prefixes.contains { p in
                    let u = Array(p.utf8)
                    return name == "startswith" ? b.starts(with: u) : b.reversed().starts(with: u.reversed())
                })
            }
        case "split":
            return f { a in
                var maxSplit = -1
                if a.count > 1, case .int(let m) = a[1] { maxSplit = m }
                if let sep = stringArg(a, 0) {
                    guard !sep.isEmpty else { throw TokenizerError("chat template: str.split(): empty separator") }
                    return .array(ExactString.split(s, by: sep, maxSplit: maxSplit).map { .string($0) })
                }
                // No separator: split on runs of white space, dropping empty parts.
                var parts: [String] = []
                var rest = Substring(s).drop(while: \.isWhitespace)
                while !rest.isEmpty {
                    if maxSplit >= 0, parts.count == maxSplit {
                        parts.append(String(rest.reversed().drop(while: \.isWhitespace).reversed()))
                        break
                    }
                    let word = rest.prefix(while: { !$0.isWhitespace })
                    parts.append(String(word))
                    rest = rest[word.endIndex...].drop(while: \.isWhitespace)
                }
                return .array(parts.map { .string($0) })
            }
        case "splitlines":
            return f { _ in
                var lines = s.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).map { JinjaValue.string(String($0)) }
                if case .string("")? = lines.last { lines.removeLast() }
                return .array(lines)
            }
        case "replace":
            return f { a in
                guard let old = stringArg(a, 0), let new = stringArg(a, 1) else {
                    throw TokenizerError("chat template: str.replace() needs two strings")
                }
                var count = -1
                if a.count > 2, case .int(let c) = a[2] { count = c }
                return .string(replace(s, old, new, count: count))
            }
        case "find", "rfind", "index":
            return f { a in
                guard let sub = stringArg(a, 0) else { throw TokenizerError("chat template: str.\(name)() needs a string") }
                let i = ExactString.find(s, sub, last: name == "rfind")
                if i < 0, name == "index" { throw TokenizerError("chat template: str.index(): substring not found") }
                return .int(i)
            }
        case "count":
            return f { a in
                guard let sub = stringArg(a, 0), !sub.isEmpty else { return .int(s.unicodeScalars.count + 1) }
                return .int(ExactString.occurrences(of: sub, in: s).count)
            }
        case "join":
            return f { a in .string(try iterate(a.first ?? .none, what: "join").map(\.pythonString).joined(separator: s)) }
        case "isdigit": return f { _ in .bool(!s.isEmpty && s.allSatisfy(\.isNumber)) }
        case "isalpha": return f { _ in .bool(!s.isEmpty && s.allSatisfy(\.isLetter)) }
        case "isspace": return f { _ in .bool(!s.isEmpty && s.allSatisfy(\.isWhitespace)) }
        case "isupper": return f { _ in .bool(s.contains(where: \.isLetter) && s == s.uppercased()) }
        case "islower": return f { _ in .bool(s.contains(where: \.isLetter) && s == s.lowercased()) }
        case "format":
            return f { a in
                let pieces = ExactString.split(s, by: "{}")
                var out = pieces[0]
                for (k, piece) in pieces.dropFirst().enumerated() { out += (k < a.count ? a[k].pythonString : "") + piece }
                return .string(out)
            }
        default: return nil
        }
    }

    static func dictMethod(_ d: JinjaDict, _ name: String) -> JinjaFunction? {
        switch name {
        case "items": return JinjaFunction(name: "dict.items") { _, _ in .array(d.items.map { .array([$0.0, $0.1]) }) }
        case "keys": return JinjaFunction(name: "dict.keys") { _, _ in .array(d.keys) }
        case "values": return JinjaFunction(name: "dict.values") { _, _ in .array(d.items.map(\.1)) }
        case "get":
            return JinjaFunction(name: "dict.get") { args, _ in
                guard let key = args.first else { throw TokenizerError("chat template: dict.get() needs a key") }
                return d[key] ?? (args.count > 1 ? args[1] : .none)
            }
        default: return nil
        }
    }

    static func replace(_ s: String, _ old: String, _ new: String, count: Int) -> String {
        ExactString.replace(s, old, new, count: count)
    }

    static func capitalize(_ s: String) -> String {
        guard let first = s.first else { return s }
        return first.uppercased() + s.dropFirst().lowercased()
    }

    static func titleCase(_ s: String) -> String {
        var out = ""
        var previousIsLetter = false
        for ch in s {
            out += previousIsLetter ? ch.lowercased() : ch.uppercased()
            previousIsLetter = ch.isLetter
        }
        return out
    }
}

