import Numerics

extension TransformerModel {
    /// Forward-only log-probabilities of each sequence's own next tokens at temperature T (the reference and "old"
    /// log-probabilities of GRPO), with whatever `LinearDelta` hooks the model holds:
    ///
    ///     result[i][k] = log softmax(z_{t−1} / T)[token_t]    for t = start_i + k, t in start_i ..< count_i
    ///
    /// with `start_i = completionStart[i]` (default 1: every token after the first, `count − 1` values). Sequences
    /// run together as one batch (each from position 0 in its own cache slot), in groups of at most `maxBatchTokens`
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

    /// One batched forward of `sequences` (slot k holds sequence k) and the head on their scored rows.
    private func batchLogProbabilities(_ sequences: [[Int]], starts: [Int], temperature: Float, chunk: Int) throws
        -> [[Float]] {
        let hidden = config.hiddenSize
        // fp32 whatever the weights: these are the loss's log-probabilities, computed as the backward's are.
        let cache = makeCache(slots: sequences.count, capacity: sequences.map(\.count).max()!, storage: .fp32)
        let layout = try BatchLayout(tokens: sequences, slots: Array(sequences.indices), cache: cache,
                                     vocabularySize: config.vocabularySize, contextLength: config.contextLength)
        let t = layout.tokenCount
        let x = UnsafeMutablePointer<Float>.allocate(capacity: t * hidden)
        defer { x.deallocate() }
        embed(sequences, into: x)
        runLayers(x, layout: layout, cache: cache)
        var rows: [Int] = [], targets: [Int] = []
        for (k, seq) in layout.sequences.enumerated() {
            for position in starts[k] ..< seq.count {
                rows.append(seq.firstRow + position - 1)
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
