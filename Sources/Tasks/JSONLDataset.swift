import Foundation
import ModelFiles

/// Reads datasets from JSONL (one JSON object per line; `.gz` files are gunzipped first; blank lines are skipped).
///
/// Record forms (the first present key decides, in this order):
/// - `{"messages": [{"role","content"}, ...]}`: used verbatim (no `PromptFormat`). A final assistant message is
///   the completion and is removed from the prompt, which must then end with a user message. Gold: the record's
///   `"answer"` if present, else the number after the completion's last `####`.
/// - `{"prompt": "...", "completion": "..."}`: the prompt string is the question (formatted with the
///   `PromptFormat`); a prompt given as a list of messages is used verbatim. `completion` is optional. Gold: the
///   record's `"answer"` if present, else the completion's last `####` answer.
/// - `{"question": "...", "answer": "..."}` (GSM8K style): the question is formatted with the `PromptFormat`. When
///   the answer has a `####` line, the answer (with GSM8K's `<<a*b=c>>` calculator annotations removed) is the
///   completion and the text after the last `####` is the gold; otherwise the whole answer is the gold and the
///   completion.
/// An `"answer"` may be a string or a number. An optional `"id"` (string or integer) names the example; otherwise
/// the id is `<name>-<index>` with the 0-based record index. Ids must be unique.
public enum JSONLDataset {
    /// Reads a .jsonl or .jsonl.gz file. Errors name the file and the 1-based line.
    public static func load(path: String, name: String? = nil, prompt: PromptFormat = .standard) throws -> Dataset {
        let bytes = try readBytes(path)
        let datasetName = name ?? Self.defaultName(path)
        return try parse(bytes, source: path, name: datasetName, prompt: prompt)
    }

    /// `dir/foo.jsonl.gz` → "foo".
    static func defaultName(_ path: String) -> String {
        var base = (path as NSString).lastPathComponent
        for suffix in [".gz", ".jsonl", ".json"] where base.hasSuffix(suffix) { base.removeLast(suffix.count) }
        return base.isEmpty ? "data" : base
    }

    /// The bytes of a JSONL file (gunzipped when it ends in .gz); errors call it `what` ("dataset \(path) not found").
    public static func readBytes(_ path: String, what: String = "dataset") throws -> [UInt8] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw TaskError("\(what) \(path) not found: no such file")
        }
        guard !isDirectory.boolValue else { throw TaskError("\(what) \(path) is a directory, not a JSONL file") }
        if path.hasSuffix(".gz") {
            do {
                return try Gzip.decompress(path: path, maxBytes: 1 << 32)
            } catch let error as ModelFileError {
                throw TaskError("\(what) \(error.message)")
            }
        }
        do {
            return [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        } catch {
            throw TaskError("cannot read \(what) \(path): \((error as NSError).localizedDescription)")
        }
    }

    /// Calls `body(lineNumber, line)` for every line of `bytes` that is not blank (1-based numbers; "\n"-separated,
    /// a line of only spaces, tabs and "\r" is blank; the line excludes its "\n").
    public static func forEachLine(of bytes: [UInt8], _ body: (Int, ArraySlice<UInt8>) throws -> Void) rethrows {
        var lineNumber = 0
        var start = 0
        while start < bytes.count {
            var end = start
            while end < bytes.count && bytes[end] != UInt8(ascii: "\n") { end += 1 }
            lineNumber += 1
            let line = bytes[start ..< end]
            start = end + 1
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            try body(lineNumber, line)
        }
    }

    /// Parses JSONL bytes; `source` names them in errors.
    public static func parse(_ bytes: [UInt8], source: String, name: String, prompt: PromptFormat) throws -> Dataset {
        var examples: [Example] = []
        var idLines: [String: Int] = [:]
        try forEachLine(of: bytes) { lineNumber, line in
            let example = try parseRecord(line, index: examples.count, name: name, prompt: prompt,
                                          at: "\(source) line \(lineNumber)")
            if let previous = idLines[example.id] {
                throw TaskError("\(source) line \(lineNumber): id \"\(example.id)\" is already used on line \(previous)")
            }
            idLines[example.id] = lineNumber
            examples.append(example)
        }
        guard !examples.isEmpty else { throw TaskError("dataset \(source) holds no records (it is empty)") }
        return Dataset(name: name, examples: examples)
    }

    /// One record; `at` ("file line N") prefixes every error.
    static func parseRecord(_ line: ArraySlice<UInt8>, index: Int, name: String, prompt: PromptFormat,
                            at: String) throws -> Example {
        guard let text = String(validating: line, as: UTF8.self) else {
            throw TaskError("\(at): not valid UTF-8")
        }
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [])
        } catch {
            let reason = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
            throw TaskError("\(at): not valid JSON (\(reason))")
        }
        guard let object = json as? [String: Any] else {
            throw TaskError("\(at): a record must be a JSON object")
        }
        return try record(object, index: index, name: name, prompt: prompt, at: at)
    }

    /// Builds an example from a decoded record (also used for the GSM8K package's `doc` objects).
    static func record(_ object: [String: Any], index: Int, name: String, prompt: PromptFormat,
                       at: String) throws -> Example {
        let id = try idField(object, at: at) ?? "\(name)-\(index)"
        let answer = try answerField(object, at: at)
        if let value = object["messages"] {
            var messages = try messageList(value, field: "messages", at: at)
            var completion: String?
            if messages.last?.role == "assistant" { completion = messages.removeLast().content }
            guard messages.last?.role == "user" else {
                throw TaskError("\(at): \"messages\" must end with a user message (optionally followed by one assistant message)")
            }
            return Example(id: id, messages: messages, completion: completion,
                           goldAnswer: answer ?? completion.flatMap(finalAnswerAfterHashes))
        }
        if let value = object["prompt"] {
            let messages: [ChatTurn]
            if let text = value as? String {
                guard !text.isEmpty else { throw TaskError("\(at): \"prompt\" is empty") }
                messages = prompt.messages(question: text)
            } else if value is [Any] {
                messages = try messageList(value, field: "prompt", at: at)
                guard messages.last?.role == "user" else { throw TaskError("\(at): \"prompt\" must end with a user message") }
            } else {
                throw TaskError("\(at): \"prompt\" must be a string or a list of messages")
            }
            var completion: String?
            if let c = object["completion"], !(c is NSNull) {
                guard let s = c as? String else { throw TaskError("\(at): \"completion\" must be a string") }
                completion = s
            }
            return Example(id: id, messages: messages, completion: completion,
                           goldAnswer: answer ?? completion.flatMap(finalAnswerAfterHashes))
        }
        if let value = object["question"] {
            guard let question = value as? String else { throw TaskError("\(at): \"question\" must be a string") }
            guard !question.isEmpty else { throw TaskError("\(at): \"question\" is empty") }
            guard let answer else { throw TaskError("\(at): a \"question\" record needs an \"answer\"") }
            let messages = prompt.messages(question: question)
            if let gold = finalAnswerAfterHashes(answer) {
                return Example(id: id, messages: messages, completion: removingCalculatorAnnotations(answer), goldAnswer: gold)
            }
            guard !answer.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw TaskError("\(at): \"answer\" is empty")
            }
            return Example(id: id, messages: messages, completion: answer,
                           goldAnswer: answer.trimmingCharacters(in: .whitespacesAndNewlines))
        }
        let keys = object.keys.sorted().map { "\"\($0)\"" }.joined(separator: ", ")
        throw TaskError("\(at): the record has none of \"question\", \"prompt\" or \"messages\" (its keys: \(keys.isEmpty ? "none" : keys))")
    }

    static func idField(_ object: [String: Any], at: String) throws -> String? {
        guard let value = object["id"], !(value is NSNull) else { return nil }
        if let s = jsonScalarText(value) { return s }
        throw TaskError("\(at): \"id\" must be a string or a number")
    }

    static func answerField(_ object: [String: Any], at: String) throws -> String? {
        guard let value = object["answer"], !(value is NSNull) else { return nil }
        if let s = jsonScalarText(value) { return s }
        throw TaskError("\(at): \"answer\" must be a string or a number")
    }

    /// A JSON string as is, a JSON number as decimal text (integral values without a fraction); nil otherwise.
    public static func jsonScalarText(_ value: Any) -> String? {
        if let s = value as? String { return s }
        // JSON true/false decode as NSNumber subclasses of objCType "c" (0 and 1 also bridge to Bool, so `is Bool`
        // cannot tell them apart).
        guard let number = value as? NSNumber, String(cString: number.objCType) != "c" else { return nil }
        if let i = value as? Int { return String(i) }
        if let d = value as? Double, d.isFinite { return "\(d)" }
        return nil
    }

    static func messageList(_ value: Any, field: String, at: String) throws -> [ChatTurn] {
        guard let array = value as? [Any], !array.isEmpty else {
            throw TaskError("\(at): \"\(field)\" must be a non-empty list of {\"role\", \"content\"} objects")
        }
        return try array.enumerated().map { i, item in
            guard let m = item as? [String: Any], let role = m["role"] as? String, let content = m["content"] as? String else {
                throw TaskError("\(at): \"\(field)\" item \(i) is not an object with string \"role\" and \"content\"")
            }
            guard ["system", "user", "assistant"].contains(role) else {
                throw TaskError("\(at): \"\(field)\" item \(i) has role \"\(role)\" (expected system, user or assistant)")
            }
            return ChatTurn(role: role, content: content)
        }
    }

    /// The text after the last `####` (trimmed, first line only), or nil when there is none or it is empty.
    public static func finalAnswerAfterHashes(_ text: String) -> String? {
        guard let range = text.range(of: "####", options: .backwards) else { return nil }
        let tail = text[range.upperBound...]
        let line = tail.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
        let answer = line.trimmingCharacters(in: .whitespaces)
        return answer.isEmpty ? nil : answer
    }

    /// Removes GSM8K's calculator annotations `<<expression=result>>`.
    public static func removingCalculatorAnnotations(_ text: String) -> String {
        var out = ""
        var rest = text[...]
        while let open = rest.range(of: "<<") {
            guard let close = rest[open.upperBound...].range(of: ">>") else { break }
            out += rest[..<open.lowerBound]
            rest = rest[close.upperBound...]
        }
        return out + rest
    }
}
