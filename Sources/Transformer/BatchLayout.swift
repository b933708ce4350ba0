/// Where each appended token of a batch goes: the batch's new tokens are the rows `0 ..< tokenCount` of every
/// activation matrix, sequence after sequence in the order given.
public struct BatchLayout {
    /// Per sequence: its cache slot, the position of its first new token (the slot's length before the call),
    /// its number of new tokens, and its first row.
    public struct Sequence {
        public let slot: Int
        public let start: Int
        public let count: Int
        public let firstRow: Int
    }

    public let sequences: [Sequence]
    public let tokenCount: Int
    /// Per row: absolute position in its sequence, and its cache slot.
    public let positions: [Int]
    public let slots: [Int]

    /// Validates the request against the cache and model (throws naming the first problem).
    public init(tokens: [[Int]], slots: [Int], cache: KVCache, vocabularySize: Int, contextLength: Int) throws {
        guard tokens.count == slots.count else {
            throw TransformerError("forward: \(tokens.count) token sequences but \(slots.count) slots")
        }
        guard !tokens.isEmpty else { throw TransformerError("forward: empty batch") }
        var seen = Set<Int>()
        var sequences: [Sequence] = []
        var positions: [Int] = []
        var rowSlots: [Int] = []
        for (i, (seq, slot)) in zip(tokens, slots).enumerated() {
            guard slot >= 0, slot < cache.slots else {
                throw TransformerError("forward: slot \(slot) is outside the cache's \(cache.slots) slots")
            }
            guard seen.insert(slot).inserted else {
                throw TransformerError("forward: slot \(slot) appears twice in one batch")
            }
            guard !seq.isEmpty else { throw TransformerError("forward: sequence \(i) has no tokens") }
            if let bad = seq.first(where: { $0 < 0 || $0 >= vocabularySize }) {
                throw TransformerError("forward: token id \(bad) is outside the vocabulary (0 ..< \(vocabularySize))")
            }
            let start = cache.lengths[slot]
            guard start >= 0, start <= cache.capacity else {
                throw TransformerError("forward: slot \(slot) has an invalid length \(start) (capacity \(cache.capacity))")
            }
            let end = start + seq.count
            guard end <= cache.capacity else {
                throw TransformerError("forward: slot \(slot) would hold \(end) tokens, cache capacity is \(cache.capacity)")
            }
            guard end <= contextLength else {
                throw TransformerError("forward: slot \(slot) would hold \(end) tokens, the model's context length is \(contextLength)")
            }
            sequences.append(Sequence(slot: slot, start: start, count: seq.count, firstRow: positions.count))
            positions += start ..< end
            rowSlots += repeatElement(slot, count: seq.count)
        }
        self.sequences = sequences
        self.positions = positions
        self.slots = rowSlots
        tokenCount = positions.count
    }
}
