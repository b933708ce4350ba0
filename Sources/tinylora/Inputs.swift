import Foundation

/// One chat message as read from a `--messages` file.
struct InputMessage: Equatable {
    let role: String
    let content: String
}

/// Reads a whole file as strict UTF-8, naming the file and the first bad byte otherwise.
func readUTF8File(_ path: String, what: String) throws -> String {
    let data: Data
    do {
        data = try Data(contentsOf: URL(fileURLWithPath: path))
    } catch {
        throw CLIError("cannot read \(what) \(path): \((error as NSError).localizedDescription)")
    }
    let bytes = [UInt8](data)
    if let bad = firstInvalidUTF8Offset(bytes) {
        throw CLIError("\(what) \(path) is not valid UTF-8 (invalid byte 0x\(String(bytes[bad], radix: 16)) at offset \(bad))")
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// The offset of the first byte that does not belong to a well-formed UTF-8 sequence (no overlong forms,
/// no surrogates, nothing above U+10FFFF), or nil if all of `bytes` is valid.
func firstInvalidUTF8Offset(_ bytes: [UInt8]) -> Int? {
    var i = 0
    let n = bytes.count
    while i < n {
        let b = bytes[i]
        if b < 0x80 { i += 1; continue }
        let length: Int
        var low: UInt8 = 0x80, high: UInt8 = 0xBF  // allowed range of the first continuation byte
        switch b {
        case 0xC2 ... 0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1 ... 0xEC, 0xEE ... 0xEF: length = 3
        case 0xED: length = 3; high = 0x9F
        case 0xF0: length = 4; low = 0x90
        case 0xF1 ... 0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F
        default: return i
        }
        guard i + length <= n else { return i }
        guard bytes[i + 1] >= low, bytes[i + 1] <= high else { return i }
        for k in 2 ..< length where bytes[i + k] & 0xC0 != 0x80 { return i }
        i += length
    }
    return nil
}

/// Parses a `--messages` file: a JSON array of objects with string fields "role" and "content".
func readMessagesFile(_ path: String) throws -> [InputMessage] {
    let text = try readUTF8File(path, what: "messages file")
    let json: Any
    do {
        json = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [])
    } catch {
        let reason = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
        throw CLIError("messages file \(path) is not valid JSON: \(reason)")
    }
    guard let array = json as? [Any] else {
        throw CLIError("messages file \(path) must hold a JSON array of {\"role\", \"content\"} objects")
    }
    guard !array.isEmpty else { throw CLIError("messages file \(path) holds no messages") }
    return try array.enumerated().map { i, item in
        guard let object = item as? [String: Any] else {
            throw CLIError("messages file \(path): message \(i) is not a JSON object")
        }
        guard let role = object["role"] as? String else {
            throw CLIError("messages file \(path): message \(i) has no string \"role\"")
        }
        guard let content = object["content"] as? String else {
            throw CLIError("messages file \(path): message \(i) has no string \"content\"")
        }
        return InputMessage(role: role, content: content)
    }
}

/// Parses `--ids 1,2,3`.
func parseIDs(_ text: String) throws -> [Int] {
    let pieces = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    return try pieces.map { piece in
        guard let id = Int(piece), id >= 0 else { throw CLIError("--ids: \"\(piece)\" is not a token id") }
        return id
    }
}
