#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Numerics

/// The language-model head on selected rows of the final hidden state, a chunk of rows at a time (so no
/// `[T, vocab]` matrix is ever held), at sampling temperature T:
///
///     z = RMSNorm(x_r)·γ · W_headᵀ          [rows, vocab]
///     logp_r = z_r[target_r]/T − logsumexp_j(z_r[j]/T)
///
/// Backward of `L = Σ_r w_r·logp_r`: `∂L/∂z_r[j] = (w_r/T)·(1[j = target_r] − softmax_j(z_r/T))`, then through
/// the head (`dn = dz·W_head`) and the RMSNorm into `dx_r`.
extension TransformerModel {
    /// `logp_r` of `targets[k]` at hidden row `rows[k]` of `x` (`[*, hidden]`), in the order given.
    /// With `store`, the scaled logits of the first `store.capacity` rows stay there for `headBackward`.
    func headLogProbabilities(_ x: UnsafePointer<Float>, rows: [Int], targets: [Int], temperature: Float,
                              chunk: Int, keepingLogitsIn store: HeadLogitsStore? = nil) -> [Float] {
        guard !rows.isEmpty else { return [] }
        let hidden = config.hiddenSize, vocab = config.vocabularySize
        let chunk = min(chunk, rows.count)
        let normed = UnsafeMutablePointer<Float>.allocate(capacity: chunk * hidden)
        let logits = UnsafeMutablePointer<Float>.allocate(capacity: chunk * vocab)
        defer { normed.deallocate(); logits.deallocate() }
        var result = [Float](repeating: 0, count: rows.count)
        var logSumExps = [Float](repeating: 0, count: rows.count)
        let inverseT = 1 / temperature
        store?.reset(temperature: temperature)
        finalNorm.withUnsafeBufferPointer { gamma in
            result.withUnsafeMutableBufferPointer { out in
                logSumExps.withUnsafeMutableBufferPointer { lses in
                    var start = 0
                    while start < rows.count {
                        // A chunk ends at the store's capacity, so the rows that fit it are computed straight into it.
                        var count = min(chunk, rows.count - start)
                        if let store, start < store.capacity { count = min(count, store.capacity - start) }
                        defer { start += count }
                        for i in 0 ..< count {
                            Kernels.rmsNorm(x + rows[start + i] * hidden, weight: gamma.baseAddress!, rows: 1,
                                            n: hidden, eps: config.rmsNormEpsilon, into: normed + i * hidden)
                        }
                        let stored = store.map { start + count <= $0.capacity } ?? false
                        let z = stored ? store!.logits + start * vocab : logits
                        lmHead.forward(normed, rows: count, into: z, threads: threads)
                        Parallel.forEach(count: count, threads: count < 4 ? 1 : threads) { i in
                            let row = z + i * vocab
                            if temperature != 1 { Kernels.scale(row, by: inverseT, count: vocab) }
                            lses[start + i] = HeadKernels.logSumExp(row, count: vocab)
                            out[start + i] = row[targets[start + i]] - lses[start + i]
                        }
                        if stored {
                            for i in 0 ..< count {
                                store!.record(row: rows[start + i], slot: start + i, logSumExp: lses[start + i])
                            }
                        }
                    }
                }
            }
        }
        return result
    }

    /// Adds the head's backward of `Σ_k weights[k]·logp(targets[k] | row rows[k])` to `dx` (`[*, hidden]`, same
    /// rows as `x`); rows with weight 0 are skipped. Returns `Σ_k weights[k]·logp_k` in Double.
    /// With `store` (filled by `headLogProbabilities` on the same hidden rows at the same temperature), the rows it
    /// holds reuse their logits instead of recomputing `normed·W_headᵀ`; the others are computed as usual.
    func headBackward(_ x: UnsafePointer<Float>, rows allRows: [Int], targets allTargets: [Int], weights allWeights: [Float],
                      temperature: Float, chunk: Int, reusingLogitsFrom store: HeadLogitsStore? = nil,
                      addingTo dx: UnsafeMutablePointer<Float>) -> Double {
        let nonzero = allWeights.indices.filter { allWeights[$0] != 0 }
        guard !nonzero.isEmpty else { return 0 }
        let usable = store.flatMap { $0.temperature == temperature ? $0 : nil }
        // Stored rows first (no head product), then the rest; each row's dx is its own, so the order is free.
        let keep = nonzero.filter { usable?.slot(ofRow: allRows[$0]) != nil }
            + nonzero.filter { usable?.slot(ofRow: allRows[$0]) == nil }
        let rows = keep.map { allRows[$0] }, targets = keep.map { allTargets[$0] }, weights = keep.map { allWeights[$0] }
        let hidden = config.hiddenSize, vocab = config.vocabularySize, eps = config.rmsNormEpsilon
        let chunk = min(chunk, rows.count)
        let normed = UnsafeMutablePointer<Float>.allocate(capacity: chunk * hidden)
        let dNormed = UnsafeMutablePointer<Float>.allocate(capacity: chunk * hidden)
        let logits = UnsafeMutablePointer<Float>.allocate(capacity: chunk * vocab)
        defer { normed.deallocate(); dNormed.deallocate(); logits.deallocate() }
        var terms = [Double](repeating: 0, count: rows.count)
        let inverseT = 1 / temperature
        finalNorm.withUnsafeBufferPointer { gamma in
            let γ = gamma.baseAddress!
            terms.withUnsafeMutableBufferPointer { terms in
                var start = 0
                while start < rows.count {
                    // A chunk is all stored rows or all computed ones.
                    let fromStore = usable?.slot(ofRow: rows[start]) != nil
                    var count = 1
                    while count < chunk, start + count < rows.count,
                          (usable?.slot(ofRow: rows[start + count]) != nil) == fromStore {
                        count += 1
                    }
                    defer { start += count }
                    for i in 0 ..< count {
                        Kernels.rmsNorm(x + rows[start + i] * hidden, weight: γ, rows: 1, n: hidden, eps: eps,
                                        into: normed + i * hidden)
                    }
                    if fromStore {
                        for i in 0 ..< count {
                            let slot = usable!.slot(ofRow: rows[start + i])!
                            (logits + i * vocab).update(from: usable!.logits + slot * vocab, count: vocab)
                        }
                    } else {
                        lmHead.forward(normed, rows: count, into: logits, threads: threads)
                    }
                    Parallel.forEach(count: count, threads: count < 4 ? 1 : threads) { i in
                        let row = logits + i * vocab, w = weights[start + i], target = targets[start + i]
                        if !fromStore, temperature != 1 { Kernels.scale(row, by: inverseT, count: vocab) }
                        let lse = fromStore ? usable!.logSumExp(ofRow: rows[start + i])
                            : HeadKernels.logSumExp(row, count: vocab)
                        terms[start + i] = Double(w) * Double(row[target] - lse)
                        // dz_j = (w/T)·(1[j = target] − softmax_j)
                        let a = w * inverseT
                        HeadKernels.negativeScaledSoftmax(row, logSumExp: lse, scale: a, count: vocab)
                        row[target] += a
                    }
                    lmHead.backward(normed, rows: count, outputGradient: logits, into: dNormed, accumulate: false,
                                    threads: threads)
                    for i in 0 ..< count {
                        BackwardKernels.rmsNorm(x + rows[start + i] * hidden, weight: γ, rows: 1, n: hidden, eps: eps,
                                                outputGradient: dNormed + i * hidden, addingTo: dx + rows[start + i] * hidden)
                    }
                }
            }
        }
        return terms.reduce(0, +)
    }
}

/// The head's scaled logits `z_r/T` (`[capacity, vocab]`) and their log-sum-exp for up to `capacity` hidden rows,
/// written by `headLogProbabilities` and read by `headBackward` on the same rows, so the `normed·W_headᵀ` product
/// (`2·hidden·vocab` FLOPs per row, ~10% of a GRPO step on Qwen-0.5B) runs once per scored row, not twice.
/// Valid until the next `reset`; rows it does not hold are recomputed by the backward.
final class HeadLogitsStore {
    let vocabularySize: Int
    let capacity: Int
    let logits: UnsafeMutablePointer<Float>
    private(set) var temperature: Float = 1
    private var slotOfRow: [Int: Int] = [:]
    private var logSumExps: [Float]

    /// At most `budgetBytes` of logits (0: none kept).
    init(vocabularySize: Int, rows: Int, budgetBytes: Int) {
        self.vocabularySize = vocabularySize
        capacity = max(0, min(rows, budgetBytes / max(1, vocabularySize * MemoryLayout<Float>.size)))
        logits = .allocate(capacity: max(1, capacity * vocabularySize))
        logSumExps = [Float](repeating: 0, count: capacity)
    }

    deinit { logits.deallocate() }

    func reset(temperature: Float) {
        self.temperature = temperature
        slotOfRow.removeAll(keepingCapacity: true)
    }

    func record(row: Int, slot: Int, logSumExp: Float) {
        slotOfRow[row] = slot
        logSumExps[slot] = logSumExp
    }

    func slot(ofRow row: Int) -> Int? { slotOfRow[row] }

    func logSumExp(ofRow row: Int) -> Float { logSumExps[slotOfRow[row]!] }
}

/// Vectorised row kernels of the head (exp by `expf` per lane would dominate: the vocabulary is ~150k wide).
enum HeadKernels {

    /// `max + log Σ e^(x_i − max)`; the sum of exponentials is taken 16 lanes at a time in fp32 (then Double
    /// across lanes and the tail). −∞ for n = 0.
    static func logSumExp(_ x: UnsafePointer<Float>, count n: Int) -> Float {
        guard n > 0 else { return -.infinity }
        let m = Kernels.maximum(x, count: n)
        guard m.isFinite else { return m }
        var s16 = SIMD16<Float>(repeating: 0)
        var i = 0
        while i + 16 <= n {
            s16 += FastExp.nonPositive(load16(x + i) - m)
            i += 16
        }
        var s = Double(s16.sum())
        while i < n {
            s += Double(expf(x[i] - m))
            i += 1
        }
        return m + Float(log(s))
    }

    /// `x_j ← −a·e^(x_j − lse)`.
    static func negativeScaledSoftmax(_ x: UnsafeMutablePointer<Float>, logSumExp lse: Float, scale a: Float, count n: Int) {
        var i = 0
        while i + 16 <= n {
            store16(FastExp.nonPositive(load16(x + i) - lse) * -a, x + i)
            i += 16
        }
        while i < n {
            x[i] = -a * expf(x[i] - lse)
            i += 1
        }
    }
}
