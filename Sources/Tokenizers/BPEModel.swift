/// Byte-level BPE on token ids.
///
/// A piece of text (bytes) starts as one symbol per byte: the id of that byte's character in the vocabulary.
/// Then, repeatedly, the adjacent pair whose merge has the lowest rank (earliest in the merge list) is
/// replaced by the merged token, the leftmost pair first among equal ranks, until no adjacent pair has a
/// merge. A heap of candidate pairs keeps this O(n log n) in the piece length. Results are cached per piece.
final class BPEModel: @unchecked Sendable {
    /// For a pair (left id, right id) packed as left << 32 | right: the merge rank and the merged token id.
    private let merges: [UInt64: (rank: Int32, id: Int32)]
    fileprivate var mergeTable: [UInt64: (rank: Int32, id: Int32)] { merges }
    /// Token id of each byte's character, or -1 when the vocabulary lacks it (the byte is then dropped).
    private let byteTokens: [Int32]
    /// With `ignoreMerges`, a piece that is itself a vocabulary token is that token (llama.cpp / HF option).
    private let wholePieces: [[UInt8]: Int32]?
    private var cache: [[UInt8]: [Int32]] = [:]
    private let cacheLimit = 200_000
    private let lock = Lock()

    /// - Parameters:
    ///   - tokenToId: the vocabulary, keyed by byte-level spelling.
    ///   - merges: pairs of byte-level spellings, best first. A pair whose parts or concatenation are not in
    ///     the vocabulary can never apply and is skipped.
    init(tokenToId: [String: Int32], merges pairs: [(String, String)], ignoreMerges: Bool = false) {
        var table: [UInt64: (rank: Int32, id: Int32)] = [:]
        table.reserveCapacity(pairs.count)
        for (rank, pair) in pairs.enumerated() {
            guard let a = tokenToId[pair.0], let b = tokenToId[pair.1], let m = tokenToId[pair.0 + pair.1] else {
                continue
            }
            let key = UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))
            if table[key] == nil { table[key] = (Int32(rank), m) }
        }
        merges = table
        if ignoreMerges {
            var whole: [[UInt8]: Int32] = [:]
            for (t, id) in tokenToId { if let b = ByteLevel.decode(t) { whole[b] = id } }
            wholePieces = whole
        } else {
            wholePieces = nil
        }
        byteTokens = (0 ..< 256).map { b in
            tokenToId[String(Unicode.Scalar(ByteLevel.scalarForByte[b])!)] ?? -1
        }
    }

    /// Appends the token ids of one piece to `out`.
    func encode(_ key: [UInt8], into out: inout [Int32]) {
        if let whole = wholePieces?[key] {
            out.append(whole)
            return
        }
        lock.lock()
        if let hit = cache[key] {
            lock.unlock()
            out.append(contentsOf: hit)
            return
        }
        lock.unlock()
        let ids = merge(key)
        lock.lock()
        if cache.count >= cacheLimit { cache.removeAll(keepingCapacity: true) }
        cache[key] = ids
        lock.unlock()
        out.append(contentsOf: ids)
    }

    private struct Candidate: Comparable {
        var rank: Int32
        var left: Int32
        var right: Int32
        var merged: Int32
        static func < (a: Candidate, b: Candidate) -> Bool {
            a.rank != b.rank ? a.rank < b.rank : a.left < b.left
        }
    }

    private func merge(_ bytes: [UInt8]) -> [Int32] {
        var ids: [Int32] = []
        ids.reserveCapacity(bytes.count)
        for b in bytes where byteTokens[Int(b)] >= 0 { ids.append(byteTokens[Int(b)]) }
        let n = ids.count
        if n < 2 { return ids }
        if n <= 24 { return mergeShort(ids) }
        // Symbols form a linked list over positions; a merged symbol lives at its left position.
        var next = [Int32](unsafeUninitializedCapacity: n) { buf, c in
            for i in 0 ..< n { buf[i] = Int32(i + 1) }
            c = n
        }
        var prev = [Int32](unsafeUninitializedCapacity: n) { buf, c in
            for i in 0 ..< n { buf[i] = Int32(i - 1) }
            c = n
        }
        var heap = MinHeap<Candidate>()
        func consider(_ l: Int32) {
            guard l >= 0 else { return }
            let r = next[Int(l)]
            guard r < Int32(n) else { return }
            let key = UInt64(UInt32(bitPattern: ids[Int(l)])) << 32 | UInt64(UInt32(bitPattern: ids[Int(r)]))
            if let m = merges[key] { heap.push(Candidate(rank: m.rank, left: l, right: r, merged: m.id)) }
        }
        for i in 0 ..< n - 1 { consider(Int32(i)) }
        var alive = [Bool](repeating: true, count: n)
        while let c = heap.pop() {
            let l = Int(c.left), r = Int(c.right)
            // Stale if either side was merged away or changed since this candidate was made.
            guard alive[l], alive[r], next[l] == c.right else { continue }
            let key = UInt64(UInt32(bitPattern: ids[l])) << 32 | UInt64(UInt32(bitPattern: ids[r]))
            guard let m = merges[key], m.rank == c.rank, m.id == c.merged else { continue }
            ids[l] = c.merged
            alive[r] = false
            let rn = next[r]
            next[l] = rn
            if rn < Int32(n) { prev[Int(rn)] = Int32(l) }
            consider(prev[l])
            consider(Int32(l))
        }
        var out: [Int32] = []
        var i: Int32 = 0
        while i < Int32(n) {
            out.append(ids[Int(i)])
            i = next[Int(i)]
        }
        return out
    }
}

extension BPEModel {
    /// The same merge order for short pieces, by rescanning all adjacent pairs after each merge (O(n^2) but
    /// without allocations). Ranks of adjacent pairs are kept in a parallel array and refreshed locally.
    fileprivate func mergeShort(_ start: [Int32]) -> [Int32] {
        var ids = start
        var ranks = [Int32](repeating: Int32.max, count: ids.count)
        var merged = [Int32](repeating: -1, count: ids.count)
        func refresh(_ i: Int) {
            if i >= 0 && i + 1 < ids.count, let m = lookupPair(ids[i], ids[i + 1]) {
                ranks[i] = m.rank
                merged[i] = m.id
            } else if i >= 0 && i < ranks.count {
                ranks[i] = Int32.max
            }
        }
        for i in 0 ..< ids.count - 1 { refresh(i) }
        while ids.count > 1 {
            var best = -1
            var bestRank = Int32.max
            for i in 0 ..< ids.count - 1 where ranks[i] < bestRank {
                bestRank = ranks[i]
                best = i
            }
            if best < 0 { break }
            ids[best] = merged[best]
            ids.remove(at: best + 1)
            ranks.remove(at: best + 1)
            merged.remove(at: best + 1)
            refresh(best - 1)
            refresh(best)
        }
        return ids
    }

    @inline(__always)
    fileprivate func lookupPair(_ a: Int32, _ b: Int32) -> (rank: Int32, id: Int32)? {
        mergeTable[UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b))]
    }
}

/// A binary min-heap.
struct MinHeap<T: Comparable> {
    private var items: [T] = []

    mutating func push(_ x: T) {
        items.append(x)
        var i = items.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            if items[i] < items[p] { items.swapAt(i, p); i = p } else { break }
        }
    }

    mutating func pop() -> T? {
        guard let top = items.first else { return nil }
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var i = 0
            let n = items.count
            while true {
                let l = 2 * i + 1, r = l + 1
                var m = i
                if l < n, items[l] < items[m] { m = l }
                if r < n, items[r] < items[m] { m = r }
                if m == i { break }
                items.swapAt(i, m)
                i = m
            }
        }
        return top
    }
}
