import Foundation
import Yams

/// Command-line options read from a YAML or JSON file (`--config FILE`).
///
/// The file's top level is a mapping of option names to values. Each entry becomes command-line tokens:
///
///     steps: 40              →  --steps=40
///     learning_rate: 1e-3    →  --learning-rate=1e-3     (underscores and dashes are the same)
///     resume: true           →  --resume
///     shuffle: false         →  --no-shuffle when "shuffle" is in `negatableFlags`, else nothing
///     targets: [q, v]        →  --targets=q,v   (keys in `repeatedKeys`: --stop=a --stop=b)
///
/// Values are passed as written in the file (YAML scalars keep their text: `1e-3` stays `1e-3`); `--key=value`
/// keeps values that start with `-` intact. Nested mappings, null values, lists of lists and keys given twice
/// are errors naming the key and the file.
///
/// `expand` splices those tokens into an argument list at the place of `--config FILE`, leaving out every key
/// the command line itself gives (as `--key`, `--key=...`, `--no-key` or a short alias), so the command line
/// wins for single values, flags and lists alike. ArgumentParser then parses the result as usual; `explain`
/// turns its message about a key that came from the file ("Unknown option '--stpes'") into one naming the file.
public enum ConfigFile {
    /// One top-level entry of a config file.
    public struct Entry: Equatable, Sendable {
        /// The option name with dashes (`learning-rate`).
        public let key: String
        public let value: Value
    }

    public enum Value: Equatable, Sendable {
        case bool(Bool)
        case text(String)
        case list([String])
    }

    /// How a list value becomes tokens.
    public enum ListStyle: Sendable {
        /// `--key=a --key=b` (an ArgumentParser `[T]` option).
        case repeated
        /// `--key=a,b` (an option that splits on commas itself); an item holding a comma is an error.
        case commaJoined
    }

    /// The result of `expansion`: the arguments to parse and where the spliced ones came from.
    public struct Expansion: Sendable {
        /// The arguments with the config file's tokens spliced in.
        public let arguments: [String]
        /// The config file, when the arguments named one.
        public let file: URL?
        /// The keys whose tokens were spliced in (those the command line did not give).
        public let keys: [String]

        /// A message naming the config file for a parse error caused by one of its keys, or nil when the error
        /// does not mention any of them. `message` is ArgumentParser's text (`Command.message(for: error)`);
        /// help text (several lines, as for `--help`) is never rewritten.
        public func explain(parseError message: String) -> String? {
            guard let file, !message.contains("\n") else { return nil }
            for key in keys where mentions(message, option: "--" + key) || mentions(message, option: "--no-" + key) {
                if message.hasPrefix("Unknown option") {
                    return "config file \(file.path): unknown key '\(key)' (there is no option --\(key))"
                }
                return "config file \(file.path): key '\(key)': \(message)"
            }
            return nil
        }

        private func mentions(_ message: String, option: String) -> Bool {
            var rest = message[...]
            while let r = rest.range(of: option) {
                let after = rest[r.upperBound...].first
                if after == nil || !(after!.isLetter || after!.isNumber || after! == "-" || after! == "_") { return true }
                rest = rest[r.upperBound...]
            }
            return false
        }
    }

    /// The entries of a `.yaml`/`.yml` or `.json` file, in file order (JSON: sorted by key).
    public static func entries(from url: URL) throws -> [Entry] {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw ConfigFileError("cannot read config file \(url.path): \((error as NSError).localizedDescription)")
        }
        let ext = url.pathExtension.lowercased()
        let raw: [(String, RawValue)]
        switch ext {
        case "yaml", "yml": raw = try yamlEntries(data, file: url)
        case "json": raw = try jsonEntries(data, file: url)
        default:
            throw ConfigFileError("config file \(url.path): unknown extension '.\(ext)' (expected .yaml, .yml or .json)")
        }
        var seen: [String: String] = [:]
        var entries: [Entry] = []
        for (name, value) in raw {
            let key = try normalizedKey(name, file: url)
            if let first = seen[key] {
                throw ConfigFileError("config file \(url.path): key '\(name)' is given twice (also as '\(first)')")
            }
            seen[key] = name
            if key == "config" {
                throw ConfigFileError("config file \(url.path): key 'config' is not allowed inside a config file")
            }
            switch value {
            case .bool(let b): entries.append(Entry(key: key, value: .bool(b)))
            case .text(let s): entries.append(Entry(key: key, value: .text(s)))
            case .list(let items): entries.append(Entry(key: key, value: .list(items)))
            case .null: throw ConfigFileError("config file \(url.path): key '\(name)' has no value")
            case .nested(let what):
                throw ConfigFileError("config file \(url.path): key '\(name)' holds \(what); values must be scalars or lists of scalars")
            }
        }
        return entries
    }

    /// The command-line tokens for a config file's entries (see the type's documentation).
    public static func arguments(from url: URL, negatableFlags: Set<String> = [], listStyle: ListStyle = .commaJoined,
                                 repeatedKeys: Set<String> = []) throws -> [String] {
        try tokens(for: try entries(from: url), negatableFlags: negatableFlags, listStyle: listStyle, repeatedKeys: repeatedKeys, file: url)
    }

    /// `argv` with `--config FILE` (or `--config=FILE`) expanded; unchanged when there is none.
    public static func expand(_ argv: [String], negatableFlags: Set<String> = [], shortNames: [Character: String] = [:],
                              listStyle: ListStyle = .commaJoined, repeatedKeys: Set<String> = []) throws -> [String] {
        try expansion(argv, negatableFlags: negatableFlags, shortNames: shortNames, listStyle: listStyle, repeatedKeys: repeatedKeys).arguments
    }

    /// Finds `--config FILE` in `argv` (before any `--`), reads FILE and inserts its tokens just before it,
    /// leaving out keys the command line gives. `--config FILE` itself stays in place, so the command should
    /// declare it (`@Option var config: String?`) to document it in its help. `shortNames` maps short options
    /// (`o`) to the long names they stand for (`out`), so `-o X` also overrides `out:` from the file. Lists
    /// become `listStyle` tokens, except for the keys in `repeatedKeys`, which are repeated.
    public static func expansion(_ argv: [String], option: String = "--config", negatableFlags: Set<String> = [],
                                 shortNames: [Character: String] = [:], listStyle: ListStyle = .commaJoined,
                                 repeatedKeys: Set<String> = []) throws -> Expansion {
        var position: Int?
        var path: String?
        var i = 0
        while i < argv.count, argv[i] != "--" {
            let a = argv[i]
            if a == option || a.hasPrefix(option + "=") {
                if position != nil { throw ConfigFileError("\(option) is given more than once") }
                position = i
                if a == option {
                    guard i + 1 < argv.count, !argv[i + 1].isEmpty else { throw ConfigFileError("\(option) needs a file name") }
                    path = argv[i + 1]
                    i += 1
                } else {
                    path = String(a.dropFirst(option.count + 1))
                    if path!.isEmpty { throw ConfigFileError("\(option) needs a file name") }
                }
            }
            i += 1
        }
        guard let position, let path else { return Expansion(arguments: argv, file: nil, keys: []) }
        let url = URL(fileURLWithPath: path)
        let given = givenKeys(argv, shortNames: shortNames)
        let kept = try entries(from: url).filter { !given.contains($0.key) }
        var out = Array(argv[..<position])
        out += try tokens(for: kept, negatableFlags: negatableFlags, listStyle: listStyle, repeatedKeys: repeatedKeys, file: url)
        out += argv[position...]
        return Expansion(arguments: out, file: url, keys: kept.map(\.key))
    }

    /// Tokens for entries, in order (`file` names the source in errors).
    public static func tokens(for entries: [Entry], negatableFlags: Set<String> = [], listStyle: ListStyle = .commaJoined,
                              repeatedKeys: Set<String> = [], file: URL? = nil) throws -> [String] {
        var out: [String] = []
        for e in entries {
            switch e.value {
            case .bool(true): out.append("--\(e.key)")
            case .bool(false): if negatableFlags.contains(e.key) { out.append("--no-\(e.key)") }
            // ArgumentParser reads `--key=` as a missing value, but `--key ""` as the empty string.
            case .text(let s): out += s.isEmpty ? ["--\(e.key)", ""] : ["--\(e.key)=\(s)"]
            case .list(let items):
                if listStyle == .repeated || repeatedKeys.contains(e.key) {
                    out += items.map { "--\(e.key)=\($0)" }
                } else {
                    if let bad = items.first(where: { $0.contains(",") }) {
                        throw ConfigFileError("config file \(file?.path ?? "?"): key '\(e.key)': list item '\(bad)' contains a comma "
                            + "(the option takes a comma-separated list)")
                    }
                    out.append("--\(e.key)=\(items.joined(separator: ","))")
                }
            }
        }
        return out
    }

    // MARK: - Parsing

    private enum RawValue {
        case bool(Bool), text(String), list([String]), null, nested(String)
    }

    /// Keys on the command line: `--key`, `--key=v`, `--no-key` (as `key`) and mapped short options.
    private static func givenKeys(_ argv: [String], shortNames: [Character: String]) -> Set<String> {
        var keys: Set<String> = []
        for a in argv {
            if a == "--" { break }
            if a.hasPrefix("--") {
                let name = String(a.dropFirst(2).prefix { $0 != "=" })
                keys.insert(name)
                if name.hasPrefix("no-") { keys.insert(String(name.dropFirst(3))) }
            } else if a.hasPrefix("-"), a.count >= 2 {
                let c = a[a.index(after: a.startIndex)]
                if let long = shortNames[c] { keys.insert(long) }
            }
        }
        return keys
    }

    private static func normalizedKey(_ name: String, file: URL) throws -> String {
        let key = name.replacingOccurrences(of: "_", with: "-")
        let ok = !key.isEmpty && key.first != "-" && key.unicodeScalars.allSatisfy {
            ($0.value < 128 && (CharacterSet.alphanumerics.contains($0))) || $0 == "-"
        }
        guard ok else { throw ConfigFileError("config file \(file.path): '\(name)' is not an option name (letters, digits, - and _)") }
        return key
    }

    /// YAML 1.2 core booleans and nulls; every other scalar keeps its text.
    private static let resolver: Resolver = {
        do {
            let bool = try Resolver.Rule(.bool, "^(?:true|True|TRUE|false|False|FALSE)$")
            return Resolver.basic.appending(bool).appending(.null)
        } catch {
            return .basic
        }
    }()

    private static func yamlEntries(_ data: Data, file: URL) throws -> [(String, RawValue)] {
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigFileError("config file \(file.path) is not UTF-8 text")
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text, resolver)
        } catch {
            throw ConfigFileError("config file \(file.path) is not valid YAML: \(error)")
        }
        guard let root else { return [] }  // an empty file
        guard case .mapping(let mapping) = root else {
            throw ConfigFileError("config file \(file.path): the top level must be a mapping of option names to values")
        }
        var out: [(String, RawValue)] = []
        for (k, v) in mapping {
            guard case .scalar(let ks) = k else { throw ConfigFileError("config file \(file.path): a key is not a plain name") }
            out.append((ks.string, try yamlValue(v)))
        }
        return out
    }

    private static func yamlValue(_ node: Node) throws -> RawValue {
        switch node {
        case .scalar(let s):
            if s.style == .plain || s.style == .any {
                let tag = resolver.resolveTag(of: node)
                if tag == .null { return .null }
                if tag == .bool { return .bool(["true", "True", "TRUE"].contains(s.string)) }
            }
            return .text(s.string)
        case .sequence(let seq):
            var items: [String] = []
            for item in seq {
                guard case .scalar(let s) = item else { return .nested("a list of lists or mappings") }
                items.append(s.string)
            }
            return .list(items)
        case .mapping: return .nested("a mapping")
        case .alias: return .nested("an alias")
        }
    }

    private static func jsonEntries(_ data: Data, file: URL) throws -> [(String, RawValue)] {
        let object: [String: JSONValue]
        do {
            object = try JSONDecoder().decode([String: JSONValue].self, from: data)
        } catch DecodingError.typeMismatch {
            throw ConfigFileError("config file \(file.path): the top level must be a JSON object of option names to values")
        } catch {
            throw ConfigFileError("config file \(file.path) is not valid JSON: \(jsonErrorText(error))")
        }
        return object.keys.sorted().map { ($0, object[$0]!.raw) }
    }

    private static func jsonErrorText(_ error: Error) -> String {
        if case DecodingError.dataCorrupted(let context) = error {
            let underlying = (context.underlyingError as NSError?)?.userInfo[NSDebugDescriptionErrorKey] as? String
            return underlying ?? context.debugDescription
        }
        return String(describing: error)
    }

    /// A JSON value as the config file needs it: scalars as text (numbers in Swift's shortest form).
    private enum JSONValue: Decodable {
        case bool(Bool), text(String), list([JSONValue]), null, object

        init(from decoder: Decoder) throws {
            let c = try decoder.singleValueContainer()
            if c.decodeNil() { self = .null; return }
            if let b = try? c.decode(Bool.self) { self = .bool(b); return }
            if let i = try? c.decode(Int.self) { self = .text(String(i)); return }
            if let d = try? c.decode(Double.self) { self = .text("\(d)"); return }
            if let s = try? c.decode(String.self) { self = .text(s); return }
            if let l = try? c.decode([JSONValue].self) { self = .list(l); return }
            self = .object
        }

        var raw: RawValue {
            switch self {
            case .bool(let b): return .bool(b)
            case .text(let s): return .text(s)
            case .null: return .null
            case .object: return .nested("an object")
            case .list(let items):
                var out: [String] = []
                for item in items {
                    switch item {
                    case .text(let s): out.append(s)
                    case .bool(let b): out.append(b ? "true" : "false")
                    default: return .nested("a list of lists, objects or nulls")
                    }
                }
                return .list(out)
            }
        }
    }
}

/// A config file that cannot be read or used.
public struct ConfigFileError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ message: String) { description = message }
}
