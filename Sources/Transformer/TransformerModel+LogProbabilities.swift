import Numerics

extension TransformerModel {
    /// Forward-only log-probabilities of each sequence's own next tokens at temperature T (the reference and "old"
    /// log-probabilities of GRPO), with whatever `LinearDelta` hooks the model holds:
    ///
    ///     result[i][k] = log softmax(z_{t−1} / T)[token_t]    for t = start_i + k, t in start_i ..< count_i
    ///
    /// with `start_i = completionStart[i]` (default 1: every token after the first, `count − 1` values). Sequences
    /// run together as one batch (each in its own cache slot; a prompt shared by several runs once, see
    /// `batchLogProbabilities`), in groups of at most `maxBatchTokens`
    /// tokens to bound the activation memory; the head runs `vocabularyChunk` rows at a time, so no `[T, vocab]`
    /// matrix is held.
    public func tokenLogProbabilities(tokens: [[Int]], completionStart: [Int]? = nil, temperature: Float = 1,
                                      vocabularyChunk: Int = 128, maxBatchTokens: Int = 2048) throws -> [[Float]] {
        guard !tokens.isEmpty else { return [] }
        try checkBackwardArguments(tokens: tokens, temperature: temperature, vocabularyChunk: vocabularyChunk)
        guard maxBatchTokens >= 1 else { throw TransformerError("tokenLogProbabilities: maxBatchTokens must be ≥ 1") }
        let starts = try TransformerModel.scoredStarts(tokens: tokens, completionStart: completionStart,
                                                       caller: "tokenLogProbabilities")
        var result = [[Float]](repeating: [], count: tokens.count)
        var group: [Int] = [], groupTokens = 0
        func flush() throws {
            guard !group.isEmpty else { return }
            let logps = try batchLogProbabilities(group.map { tokens[$0] }, starts: group.map { starts[$0] },
                                                  temperature: temperature, chunk: vocabularyChunk)
            for (k, i) in group.enumerated() { result[i] = logps[k] }
            group = []
            groupTokens = 0
        }
        for (i, seq) in tokens.enumerated() {
            if groupTokens + seq.count > maxBatchTokens { try flush() }
            group.append(i)
            groupTokens += seq.count
        }
        try flush()
        return result
    }

    /// One batched forward of `sequences` (slot k holds sequence k) and the head on their scored rows. Sequences
    /// that share a prompt (`sharedPromptGroups`: the same start s ≥ 2 and the same first s − 1 tokens, e.g. a GRPO
    /// group) run those P = s − 1 tokens once: the prompt goes through the layers in its first member's slot, the
    /// slot is copied to the other members', and the batch then runs each member's tokens from P on — the same
    /// split as the shared-prompt backward's, so the two give the same log-probabilities.
    private func batchLogProbabilities(_ sequences: [[Int]], starts: [Int], temperature: Float, chunk: Int) throws
        -> [[Float]] {
        let hidden = config.hiddenSize
        // fp32 whatever the weights: these are the loss's log-probabilities, computed as the backward's are.
        let cache = makeCache(slots: sequences.count, capacity: sequences.map(\.count).max()!, storage: .fp32)
        // The tokens of sequence k already in its slot before the batch (its shared prompt, or 0).
        var cached = [Int](repeating: 0, count: sequences.count)
        let groups = TransformerModel.sharedPromptGroups(tokens: sequences, completionStart: starts)
        let shared = groups.filter { $0.count >= 2 }
        if !shared.isEmpty {
            // Each shared prompt into its first member's slot (the logits of its last row go unused), then copied.
            _ = try forward(tokens: shared.map { Array(sequences[$0[0]][0 ..< starts[$0[0]] - 1]) },
                            slots: shared.map { $0[0] }, cache: cache, allPositions: false)
            for group in shared {
                for k in group {
                    cache.copy(slot: group[0], to: k)
                    cached[k] = cache.lengths[k]
                }
            }
        }
        let parts = sequences.indices.map { Array(sequences[$0][cached[$0]...]) }
        let layout = try BatchLayout(tokens: parts, slots: Array(sequences.indices), cache: cache,
                                     vocabularySize: config.vocabularySize, contextLength: config.contextLength)
        let t = layout.tokenCount
        let x = UnsafeMutablePointer<Float>.allocate(capacity: t * hidden)
        defer { x.deallocate() }
        embed(parts, into: x)
        runLayers(x, layout: layout, cache: cache)
        var rows: [Int] = [], targets: [Int] = []
        for (k, seq) in layout.sequences.enumerated() {
            for position in starts[k] ..< sequences[k].count {
                rows.append(seq.firstRow + position - 1 - cached[k])
                targets.append(sequences[k][position])
            }
        }
        let flat = headLogProbabilities(x, rows: rows, targets: targets, temperature: temperature, chunk: chunk)
        var result: [[Float]] = []
        var offset = 0
        for (k, seq) in sequences.enumerated() {
            let n = seq.count - starts[k]
            result.append(Array(flat[offset ..< offset + n]))
            offset += n
        }
        return result
    }
}
