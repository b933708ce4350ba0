/// Finds stop strings in decoded text.
///
/// Matching is on UTF-8 bytes, not on Swift `Character`s: a stop string "\n" must match inside "\r\n", which is a
/// single grapheme cluster. A match of a valid UTF-8 string always begins on a scalar boundary, so cutting there
/// leaves valid text.
public struct StopStrings: Sendable {
    public let strings: [String]
    private let patterns: [[UInt8]]

    /// Throws `GenerationError.emptyStopString` for "" (it would match before any text).
    public init(_ strings: [String]) throws {
        for (index, string) in strings.enumerated() where string.isEmpty {
            throw GenerationError.emptyStopString(index: index)
        }
        self.strings = strings
        patterns = strings.map { Array($0.utf8) }
    }

    public var isEmpty: Bool { strings.isEmpty }

    /// The earliest match in `text`: its UTF-8 byte offset and which stop string matched (the first listed one when
    /// several start at the same offset).
    public func firstMatch(in text: String) -> (utf8Offset: Int, stopString: String)? {
        let bytes = Array(text.utf8)
        var best: (Int, Int)?
        for (which, pattern) in patterns.enumerated() {
            guard let offset = StopStrings.find(pattern, in: bytes) else { continue }
            if best == nil || offset < best!.0 { best = (offset, which) }
        }
        return best.map { ($0.0, strings[$0.1]) }
    }

    /// `text` up to (not including) its first stop string; the whole text when none occurs.
    public func truncate(_ text: String) -> String {
        guard let match = firstMatch(in: text) else { return text }
        return String(decoding: Array(text.utf8)[..<match.utf8Offset], as: UTF8.self)
    }

    /// For streaming: how many leading UTF-8 bytes of `text` can be shown now and never be taken back. That is the
    /// text before the first stop string; without a match, everything except a trailing part that could still grow
    /// into a stop string (a proper prefix of one of them ending the text).
    public func safePrefixLength(of text: String) -> Int {
        let bytes = Array(text.utf8)
        if let match = firstMatch(in: text) { return match.utf8Offset }
        var held = 0
        for pattern in patterns {
            var length = min(pattern.count - 1, bytes.count)
            while length > held {
                if bytes[(bytes.count - length)...].elementsEqual(pattern[..<length]) {
                    held = length
                    break
                }
                length -= 1
            }
        }
        var safe = bytes.count - held
        // Never split a UTF-8 sequence: back up to the start of a scalar.
        while safe > 0 && safe < bytes.count && bytes[safe] & 0xC0 == 0x80 { safe -= 1 }
        return safe
    }

    private static func find(_ pattern: [UInt8], in bytes: [UInt8]) -> Int? {
        guard !pattern.isEmpty, pattern.count <= bytes.count else { return nil }
        let first = pattern[0]
        var start = 0
        while start + pattern.count <= bytes.count {
            if bytes[start] == first && bytes[start ..< start + pattern.count].elementsEqual(pattern) {
                return start
            }
            start += 1
        }
        return nil
    }
}
