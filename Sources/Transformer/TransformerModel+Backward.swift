import Foundation
import Numerics

extension TransformerModel {
    /// The weighted log-likelihood of whole sequences and its backward pass to every `LinearDelta` hooked into the
    /// model (their parameter gradients accumulate; frozen weights, norms and embeddings get no gradient):
    ///
    ///     L = Σ_sequences Σ_{t < T−1} w_t · log p(token_{t+1} | tokens_{≤t})
    ///
    /// `weights[i]` holds `tokens[i].count − 1` finite values (`w_t` weights the prediction of token t+1; rows with
    /// w_t = 0 cost nothing in the head). Each sequence runs alone from position 0 (its own temporary cache).
    ///
    /// Memory: the input `[T, hidden]` of every layer is saved during the forward, each layer's activations are
    /// recomputed inside its backward, and the head (`logits = RMSNorm(x)·γ·W_headᵀ`, log-softmax,
    /// `dlogits_j = w_t·(1[j = target] − softmax_j)`, `dx = RMSNorm'ᵀ·(dlogits·W_head)`) runs `vocabularyChunk` rows
    /// at a time, so no `[T, vocab]` matrix is ever held. Returns L (summed in Double).
    public func backward(tokens: [[Int]], weights: [[Float]], vocabularyChunk: Int = 32) throws -> Double {
        guard tokens.count == weights.count else {
            throw TransformerError("backward: \(tokens.count) sequences but \(weights.count) weight lists")
        }
        guard vocabularyChunk >= 1 else { throw TransformerError("backward: vocabulary chunk must be ≥ 1") }
        for (i, (seq, w)) in zip(tokens, weights).enumerated() {
            guard !seq.isEmpty else { throw TransformerError("backward: sequence \(i) has no tokens") }
            guard w.count == seq.count - 1 else {
                throw TransformerError("backward: sequence \(i) has \(seq.count) tokens, so \(seq.count - 1) weights, "
                    + "not \(w.count)")
            }
            if let bad = w.firstIndex(where: { !$0.isFinite }) {
                throw TransformerError("backward: weight \(bad) of sequence \(i) is not finite")
            }
        }
        var loss = 0.0
        for (seq, w) in zip(tokens, weights) {
            loss += try sequenceBackward(seq, weights: w, vocabularyChunk: vocabularyChunk)
        }
        return loss
    }

    private func sequenceBackward(_ tokens: [Int], weights: [Float], vocabularyChunk: Int) throws -> Double {
        let t = tokens.count, hidden = config.hiddenSize, vocab = config.vocabularySize, eps = config.rmsNormEpsilon
        let cache = makeCache(slots: 1, capacity: t)
        let layout = try BatchLayout(tokens: [tokens], slots: [0], cache: cache, vocabularySize: vocab,
                                     contextLength: config.contextLength)
        guard weights.contains(where: { $0 != 0 }) else { return 0 }  // nothing to differentiate
        let layerCount = layers.count
        // inputs[l] = input of layer l; inputs[L] = final hidden state.
        let inputs = UnsafeMutablePointer<Float>.allocate(capacity: (layerCount + 1) * t * hidden)
        defer { inputs.deallocate() }
        embedding.withUnsafeBufferPointer { e in
            for (row, id) in tokens.enumerated() {
                (inputs + row * hidden).initialize(from: e.baseAddress! + id * hidden, count: hidden)
            }
        }
        let tables = RoPETables(rope: rope, positions: layout.positions)
        defer { tables.deallocate() }
        do {
            let scratch = Scratch(rows: t, config: config)
            for (l, layer) in layers.enumerated() {
                let x = inputs + (l + 1) * t * hidden
                x.initialize(from: inputs + l * t * hidden, count: t * hidden)
                layer.forward(x, layout: layout, cache: cache, layer: l, config: config, rope: rope, ropeTables: tables,
                              scratch: scratch, threads: threads)
            }
        }

        // Head, in chunks of rows with non-zero weight.
        let final = inputs + layerCount * t * hidden
        let dx = UnsafeMutablePointer<Float>.allocate(capacity: t * hidden)
        dx.initialize(repeating: 0, count: t * hidden)
        defer { dx.deallocate() }
        let rows = (0 ..< t - 1).filter { weights[$0] != 0 }
        let chunk = min(vocabularyChunk, max(rows.count, 1))
        let normed = UnsafeMutablePointer<Float>.allocate(capacity: chunk * hidden)
        let dNormed = UnsafeMutablePointer<Float>.allocate(capacity: chunk * hidden)
        let logits = UnsafeMutablePointer<Float>.allocate(capacity: chunk * vocab)
        defer { normed.deallocate(); dNormed.deallocate(); logits.deallocate() }
        var loss = 0.0
        finalNorm.withUnsafeBufferPointer { gamma in
            let γ = gamma.baseAddress!
            for start in stride(from: 0, to: rows.count, by: chunk) {
                let part = rows[start ..< min(start + chunk, rows.count)]
                for (i, r) in part.enumerated() {
                    Kernels.rmsNorm(final + r * hidden, weight: γ, rows: 1, n: hidden, eps: eps, into: normed + i * hidden)
                }
                lmHead.forward(normed, rows: part.count, into: logits, threads: threads)
                for (i, r) in part.enumerated() {
                    let row = logits + i * vocab, w = weights[r], target = tokens[r + 1]
                    let lse = Kernels.logSumExp(row, count: vocab)
                    loss += Double(w) * Double(row[target] - lse)
                    for j in 0 ..< vocab { row[j] = -w * expf(row[j] - lse) }
                    row[target] += w
                }
                lmHead.backward(normed, rows: part.count, outputGradient: logits, into: dNormed, accumulate: false,
                                threads: threads)
                for (i, r) in part.enumerated() {
                    BackwardKernels.rmsNorm(final + r * hidden, weight: γ, rows: 1, n: hidden, eps: eps,
                                            outputGradient: dNormed + i * hidden, addingTo: dx + r * hidden)
                }
            }
        }

        let scratch = BackwardScratch(rows: t, config: config)
        for l in stride(from: layerCount - 1, through: 0, by: -1) {
            layers[l].backward(input: inputs + l * t * hidden, gradient: dx, layout: layout, cache: cache, layer: l,
                               config: config, rope: rope, ropeTables: tables, scratch: scratch, threads: threads)
        }
        return loss
    }
}
