/// Exact (code point by code point) substring search, as Python does it; Swift's and Foundation's string
/// searches compare by canonical equivalence instead.
enum ExactString {
    /// Byte offsets in `s` where `sub` occurs, left to right, not overlapping.
    static func occurrences(of sub: String, in s: String, limit: Int = Int.max) -> [Int] {
        let h = Array(s.utf8), n = Array(sub.utf8)
        guard !n.isEmpty, n.count <= h.count else { return [] }
        var out: [Int] = []
        var i = 0
        while i + n.count <= h.count, out.count < limit {
            if h[i] == n[0], h[i ..< i + n.count].elementsEqual(n) {
                out.append(i)
                i += n.count
            } else {
                i += 1
            }
        }
        return out
    }

    static func contains(_ s: String, _ sub: String) -> Bool {
        sub.isEmpty || !occurrences(of: sub, in: s, limit: 1).isEmpty
    }

    /// The pieces of `s` between occurrences of `sep` (at most `maxSplit` splits when >= 0).
    static func split(_ s: String, by sep: String, maxSplit: Int = -1) -> [String] {
        let h = Array(s.utf8)
        let offsets = occurrences(of: sep, in: s, limit: maxSplit < 0 ? Int.max : maxSplit)
        var parts: [String] = []
        var start = 0
        for o in offsets {
            parts.append(String(decoding: h[start ..< o], as: UTF8.self))
            start = o + sep.utf8.count
        }
        parts.append(String(decoding: h[start...], as: UTF8.self))
        return parts
    }

    static func replace(_ s: String, _ old: String, _ new: String, count: Int = -1) -> String {
        guard !old.isEmpty else { return s }
        return split(s, by: old, maxSplit: count).joined(separator: new)
    }

    /// Code point index of the first (or last) occurrence, or -1.
    static func find(_ s: String, _ sub: String, last: Bool) -> Int {
        let all = occurrences(of: sub, in: s)
        let offset: Int
        if sub.isEmpty {
            offset = last ? s.utf8.count : 0
        } else if let o = last ? lastOccurrence(of: sub, in: s) : all.first {
            offset = o
        } else {
            return -1
        }
        return String(decoding: Array(s.utf8)[..<offset], as: UTF8.self).unicodeScalars.count
    }

    private static func lastOccurrence(of sub: String, in s: String) -> Int? {
        let h = Array(s.utf8), n = Array(sub.utf8)
        guard n.count <= h.count else { return nil }
        var i = h.count - n.count
        while i >= 0 {
            if h[i ..< i + n.count].elementsEqual(n) { return i }
            i -= 1
        }
        return nil
    }
}
