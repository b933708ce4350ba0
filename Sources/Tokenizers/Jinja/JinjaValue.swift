/// A value inside a Jinja template, with Python's semantics (what transformers' Jinja2 sees).
public indirect enum JinjaValue: Sendable {
    /// A missing variable or attribute; `name` says what was looked up (for error messages).
    case undefined(String)
    case none
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JinjaValue])
    /// A dictionary that keeps insertion order, as Python's does.
    case dict(JinjaDict)
    /// A `namespace()` object: attributes can be assigned with `{% set ns.x = ... %}`.
    case namespace(JinjaNamespace)
    /// A callable: macro, global function, or a bound method such as `'abc'.upper`.
    case function(JinjaFunction)

    public static func from(_ s: String?) -> JinjaValue { s.map { .string($0) } ?? .none }

    /// Python truthiness.
    var isTruthy: Bool {
        switch self {
        case .undefined, .none: return false
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .double(let d): return d != 0
        case .string(let s): return !s.isEmpty
        case .array(let a): return !a.isEmpty
        case .dict(let d): return !d.isEmpty
        case .namespace, .function: return true
        }
    }

    var isUndefined: Bool {
        if case .undefined = self { return true }
        return false
    }

    var typeName: String {
        switch self {
        case .undefined: return "undefined"
        case .none: return "NoneType"
        case .bool: return "bool"
        case .int: return "int"
        case .double: return "float"
        case .string: return "str"
        case .array: return "list"
        case .dict: return "dict"
        case .namespace: return "Namespace"
        case .function: return "function"
        }
    }
}

/// An insertion-ordered string-keyed dictionary (keys of other types are written as their string form).
public struct JinjaDict: Sendable {
    public private(set) var keys: [JinjaValue] = []
    private var values: [String: JinjaValue] = [:]

    public init() {}

    public init(_ pairs: [(String, JinjaValue)]) {
        for (k, v) in pairs { self[.string(k)] = v }
    }

    var isEmpty: Bool { keys.isEmpty }
    var count: Int { keys.count }

    static func keyString(_ k: JinjaValue) -> String {
        switch k {
        case .string(let s): return "s" + s
        default: return "v" + k.pythonRepr
        }
    }

    public subscript(key: JinjaValue) -> JinjaValue? {
        get { values[Self.keyString(key)] }
        set {
            let ks = Self.keyString(key)
            if let newValue {
                if values.updateValue(newValue, forKey: ks) == nil { keys.append(key) }
            } else if values.removeValue(forKey: ks) != nil {
                keys.removeAll { Self.keyString($0) == ks }
            }
        }
    }

    public subscript(key: String) -> JinjaValue? {
        get { self[.string(key)] }
        set { self[.string(key)] = newValue }
    }

    var items: [(JinjaValue, JinjaValue)] { keys.map { ($0, values[Self.keyString($0)]!) } }
}

/// A mutable attribute bag (Jinja's `namespace`).
public final class JinjaNamespace: @unchecked Sendable {
    var attributes: JinjaDict

    init(_ attributes: JinjaDict) {
        self.attributes = attributes
    }
}

/// A callable value: positional arguments and keyword arguments in, a value out.
public struct JinjaFunction: Sendable {
    let name: String
    let call: @Sendable ([JinjaValue], [(String, JinjaValue)]) throws -> JinjaValue
}

// MARK: printing (Python str / repr)

extension JinjaValue {
    /// `str(value)` as Python prints it; undefined prints as nothing.
    var pythonString: String {
        switch self {
        case .undefined: return ""
        case .string(let s): return s
        default: return pythonRepr
        }
    }

    /// `repr(value)`, as Python prints items inside a list or dict.
    var pythonRepr: String {
        switch self {
        case .undefined: return ""
        case .none: return "None"
        case .bool(let b): return b ? "True" : "False"
        case .int(let i): return String(i)
        case .double(let d): return Self.formatDouble(d)
        case .string(let s): return Self.reprString(s)
        case .array(let a): return "[" + a.map(\.pythonRepr).joined(separator: ", ") + "]"
        case .dict(let d): return "{" + d.items.map { "\($0.0.pythonRepr): \($0.1.pythonRepr)" }.joined(separator: ", ") + "}"
        case .namespace(let n): return "<Namespace \(JinjaValue.dict(n.attributes).pythonRepr)>"
        case .function(let f): return "<function \(f.name)>"
        }
    }

    static func formatDouble(_ d: Double) -> String {
        if d.isNaN { return "nan" }
        if d.isInfinite { return d > 0 ? "inf" : "-inf" }
        if d == d.rounded(), abs(d) < 1e16 { return String(format: "%.1f", d) }
        var s = "\(d)"
        // Swift writes 1e-05 as "1e-05" like Python; make sure the exponent has Python's form.
        if let e = s.firstIndex(of: "e") {
            let mantissa = s[..<e]
            var exp = String(s[s.index(after: e)...])
            let sign = exp.hasPrefix("-") ? "-" : "+"
            exp = exp.trimmingCharacters(in: CharacterSet(charactersIn: "+-"))
            if exp.count < 2 { exp = "0" + exp }
            s = mantissa + "e" + sign + exp
        }
        return s
    }

    static func reprString(_ s: String) -> String {
        let quote: Character = s.contains("'") && !s.contains("\"") ? "\"" : "'"
        var out = String(quote)
        for ch in s.unicodeScalars {
            switch ch {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if Character(ch) == quote {
                    out += "\\" + String(ch)
                } else if ch.value < 0x20 || ch.value == 0x7F {
                    out += String(format: "\\x%02x", ch.value)
                } else {
                    out.unicodeScalars.append(ch)
                }
            }
        }
        out.append(quote)
        return out
    }
}

import Foundation

extension JinjaValue {
    /// Converts a value from `JSONSerialization` (dictionaries keep their keys sorted, as JSON objects have no
    /// order there) into a template value.
    public static func fromJSON(_ any: Any?) -> JinjaValue {
        switch any {
        case nil, is NSNull: return .none
        case let b as Bool where type(of: any!) == Bool.self: return .bool(b)
        case let s as String: return .string(s)
        case let n as NSNumber:
            if String(cString: n.objCType) == "c" || String(cString: n.objCType) == "B" { return .bool(n.boolValue) }
            if let i = Int(exactly: n.doubleValue), !String(cString: n.objCType).contains(where: { "fd".contains($0) }) {
                return .int(i)
            }
            return .double(n.doubleValue)
        case let a as [Any]: return .array(a.map { fromJSON($0) })
        case let d as [String: Any]: return .dict(JinjaDict(d.keys.sorted().map { ($0, fromJSON(d[$0])) }))
        default: return .string("\(any!)")
        }
    }
}
