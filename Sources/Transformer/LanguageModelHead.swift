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
    func headLogProbabilities(_ x: UnsafePointer<Float>, rows: [Int], targets: [Int], temperature: Float,
                              chunk: Int) -> [Float] {
        guard !rows.isEmpty else { return [] }
        let hidden = config.hiddenSize, vocab = config.vocabularySize
        let chunk = min(chunk, rows.count)
        let normed = UnsafeMutablePointer<Float>.allocate(capacity: chunk * hidden)
        let logits = UnsafeMutablePointer<Float>.allocate(capacity: chunk * vocab)
        defer { normed.deallocate(); logits.deallocate() }
        var result = [Float](repeating: 0, count: rows.count)
        let inverseT = 1 / temperature
        finalNorm.withUnsafeBufferPointer { gamma in
            result.withUnsafeMutableBufferPointer { out in
                for start in stride(from: 0, to: rows.count, by: chunk) {
                    let count = min(chunk, rows.count - start)
                    for i in 0 ..< count {
                        Kernels.rmsNorm(x + rows[start + i] * hidden, weight: gamma.baseAddress!, rows: 1, n: hidden,
                                        eps: config.rmsNormEpsilon, into: normed + i * hidden)
                    }
                    lmHead.forward(normed, rows: count, into: logits, threads: threads)
                    Parallel.forEach(count: count, threads: count < 4 ? 1 : threads) { i in
                        let row = logits + i * vocab
                        if temperature != 1 { HeadKernels.scale(row, by: inverseT, count: vocab) }
                        out[start + i] = row[targets[start + i]] - HeadKernels.logSumExp(row, count: vocab)
                    }
                }
            }
        }
        return result
    }

    /// Adds the head's backward of `Σ_k weights[k]·logp(targets[k] | row rows[k])` to `dx` (`[*, hidden]`, same
    /// rows as `x`); rows with weight 0 are skipped. Returns `Σ_k weights[k]·logp_k` in Double.
    func headBackward(_ x: UnsafePointer<Float>, rows allRows: [Int], targets allTargets: [Int], weights allWeights: [Float],
                      temperature: Float, chunk: Int, addingTo dx: UnsafeMutablePointer<Float>) -> Double {
        let keep = allWeights.indices.filter { allWeights[$0] != 0 }
        guard !keep.isEmpty else { return 0 }
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
                for start in stride(from: 0, to: rows.count, by: chunk) {
                    let count = min(chunk, rows.count - start)
                    for i in 0 ..< count {
                        Kernels.rmsNorm(x + rows[start + i] * hidden, weight: γ, rows: 1, n: hidden, eps: eps,
                                        into: normed + i * hidden)
                    }
                    lmHead.forward(normed, rows: count, into: logits, threads: threads)
                    Parallel.forEach(count: count, threads: count < 4 ? 1 : threads) { i in
                        let row = logits + i * vocab, w = weights[start + i], target = targets[start + i]
                        if temperature != 1 { HeadKernels.scale(row, by: inverseT, count: vocab) }
                        let lse = HeadKernels.logSumExp(row, count: vocab)
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

/// Vectorised row kernels of the head (exp by `expf` per lane would dominate: the vocabulary is ~150k wide).
enum HeadKernels {
    /// `x ← a·x`.
    static func scale(_ x: UnsafeMutablePointer<Float>, by a: Float, count n: Int) {
        var i = 0
        while i + 16 <= n {
            store16(load16(x + i) * a, x + i)
            i += 16
        }
        while i < n {
            x[i] *= a
            i += 1
        }
    }

    /// `max + log Σ e^(x_i − max)`; the sum of exponentials is taken 16 lanes at a time in fp32 (then Double
    /// across lanes and the tail). −∞ for n = 0.
    static func logSumExp(_ x: UnsafePointer<Float>, count n: Int) -> Float {
        guard n > 0 else { return -.infinity }
        var m16 = SIMD16<Float>(repeating: -.infinity)
        var i = 0
        while i + 16 <= n {
            m16 = pointwiseMax(m16, load16(x + i))
            i += 16
        }
        var m = m16.max()
        while i < n {
            m = max(m, x[i])
            i += 1
        }
        guard m.isFinite else { return m }
        var s16 = SIMD16<Float>(repeating: 0)
        i = 0
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
