/// Finds added/special tokens in UTF-8 text: at each position the longest token that matches there wins, and
/// the scan goes left to right (leftmost-longest), so `<|im_start|>` is cut out before BPE sees the text.
/// A token with `lstrip`/`rstrip` also takes the white space before/after it.
struct SpecialTokenMatcher: Sendable {
    enum Segment {
        case text(Range<Int>)
        case token(Int32)
    }

    private struct Entry: Sendable {
        var bytes: [UInt8]
        var id: Int32
        var special: Bool
        var lstrip: Bool
        var rstrip: Bool
    }

    /// Candidates by first byte, longest first.
    private let byFirstByte: [[Entry]]
    private let isEmpty: Bool

    init(tokens: [([UInt8], AddedToken)]) {
        var table = [[Entry]](repeating: [], count: 256)
        for (bytes, t) in tokens where !bytes.isEmpty {
            table[Int(bytes[0])].append(
                Entry(bytes: bytes, id: Int32(t.id), special: t.special, lstrip: t.lstrip, rstrip: t.rstrip))
        }
        for i in 0 ..< 256 { table[i].sort { $0.bytes.count > $1.bytes.count } }
        byFirstByte = table
        isEmpty = tokens.isEmpty
    }

    func split(_ text: [UInt8], parseSpecial: Bool) -> [Segment] {
        if isEmpty { return text.isEmpty ? [] : [.text(0 ..< text.count)] }
        var out: [Segment] = []
        var start = 0
        var i = 0
        let n = text.count
        text.withUnsafeBufferPointer { t in
            while i < n {
                var matched: Entry?
                for e in byFirstByte[Int(t[i])] where (parseSpecial || !e.special) && i + e.bytes.count <= n {
                    var k = 1
                    while k < e.bytes.count, t[i + k] == e.bytes[k] { k += 1 }
                    if k == e.bytes.count { matched = e; break }
                }
                if let e = matched {
                    var textEnd = i
                    if e.lstrip {
                        while textEnd > start, let w = Self.whitespaceBefore(t, textEnd, floor: start) { textEnd -= w }
                    }
                    if start < textEnd { out.append(.text(start ..< textEnd)) }
                    out.append(.token(e.id))
                    i += e.bytes.count
                    if e.rstrip {
                        while i < n, let w = Self.whitespaceAt(t, i) { i += w }
                    }
                    start = i
                } else {
                    i += 1
                }
            }
        }
        if start < n { out.append(.text(start ..< n)) }
        return out
    }

    /// Byte length of the white-space character starting at `i`, or nil.
    static func whitespaceAt(_ t: UnsafeBufferPointer<UInt8>, _ i: Int) -> Int? {
        let len = UTF8Util.sequenceLength(t[i])
        guard len > 0, i + len <= t.count else { return nil }
        let v = UTF8Util.scalars(ArraySlice(t[i ..< i + len]))[0]
        return CharacterClass.of(v).contains(.whitespace) ? len : nil
    }

    /// Byte length of the white-space character ending at `end` (not before `floor`), or nil.
    static func whitespaceBefore(_ t: UnsafeBufferPointer<UInt8>, _ end: Int, floor: Int) -> Int? {
        var s = end - 1
        while s > floor, t[s] & 0xC0 == 0x80 { s -= 1 }
        guard let w = whitespaceAt(t, s), s + w == end else { return nil }
        return w
    }
}
