/// Finds added/special tokens in UTF-8 text: at each position the longest token that matches there wins, and
/// the scan goes left to right (leftmost-longest), so `<|im_start|>` is cut out before BPE sees the text.
struct SpecialTokenMatcher: Sendable {
    enum Segment {
        case text(Range<Int>)
        case token(Int32)
    }

    private struct Entry: Sendable {
        var bytes: [UInt8]
        var id: Int32
        var special: Bool
    }

    /// Candidates by first byte, longest first.
    private let byFirstByte: [[Entry]]
    private let isEmpty: Bool

    init(tokens: [([UInt8], Int32, Bool)]) {
        var table = [[Entry]](repeating: [], count: 256)
        for (bytes, id, special) in tokens where !bytes.isEmpty {
            table[Int(bytes[0])].append(Entry(bytes: bytes, id: id, special: special))
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
                    if start < i { out.append(.text(start ..< i)) }
                    out.append(.token(e.id))
                    i += e.bytes.count
                    start = i
                } else {
                    i += 1
                }
            }
        }
        if start < n { out.append(.text(start ..< n)) }
        return out
    }
}
