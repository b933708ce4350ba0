/// Turns ids into text one at a time, for printing while generating. A token can end in the middle of a
/// multi-byte character; those bytes are held until the character is complete. Bytes that can never become
/// valid UTF-8 come out as U+FFFD right away, and `finish()` flushes a held incomplete tail as U+FFFD.
public struct StreamingDecoder {
    private let tokenizer: Tokenizer
    private let skipSpecial: Bool
    private var pending: [UInt8] = []

    init(tokenizer: Tokenizer, skipSpecial: Bool) {
        self.tokenizer = tokenizer
        self.skipSpecial = skipSpecial
    }

    /// Adds one token; returns the text that is now complete (possibly empty).
    public mutating func add(_ id: Int) throws -> String {
        let b = try tokenizer.bytes(of: id)
        if skipSpecial && tokenizer.isSpecial(id) { return "" }
        pending.append(contentsOf: b)
        return takeComplete()
    }

    /// Adds raw bytes; returns the text that is now complete.
    public mutating func add(bytes: [UInt8]) -> String {
        pending.append(contentsOf: bytes)
        return takeComplete()
    }

    /// Whatever is still held, with an incomplete character as U+FFFD; the decoder is then empty.
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// Emits everything except a trailing sequence that could still become a valid character.
    private mutating func takeComplete() -> String {
        let keep = pending.withUnsafeBufferPointer { buf -> Int in
            // Look at the last (up to 3) bytes for the start of an unfinished sequence.
            let n = buf.count
            var i = n - 1
            while i >= 0, i >= n - 3 {
                let b = buf[i]
                if b & 0xC0 != 0x80 {
                    let len = UTF8Util.sequenceLength(b)
                    if len > n - i, UTF8Util.validPrefix(buf, i, len) == n - i { return n - i }
                    return 0
                }
                i -= 1
            }
            return 0
        }
        let text = String(decoding: pending[0 ..< pending.count - keep], as: UTF8.self)
        pending.removeFirst(pending.count - keep)
        return text
    }
}
