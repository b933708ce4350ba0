import Foundation
import Numerics

/// Chooses the next token from one row of logits `[vocabularySize]` with `SamplingParameters` (the filter order and
/// each filter's exact rule are documented there).
///
/// Computation: penalized logits l' (Float, as transformers); scaled s = l' / temperature (Float); top-k finds the
/// k-th largest s; weights w = exp(s − max s) (Float, `FastExp.nonPositive`) for tokens with s >= that value, 0 for
/// the others; top-p keeps the most probable tokens while the weight of the tokens ranked above stays < topP × Σw;
/// min-p zeroes w < minP × max w; then u = nextDouble() × Σw picks the first token, in id order, whose running sum
/// of weights exceeds u: one uniform per sampled token. Sums are in Double and fixed in order: each 16-token chunk
/// j (the last one may be shorter) has c_j = w[16j] + w[16j+1] + … added in id order, Σw = c_0 + c_1 + … in chunk
/// order, and the draw skips whole chunks while the running sum of the c_j stays <= u, then adds single weights.
/// All passes are O(vocabularySize) except the sort of the top-p candidates (the tokens above a weight floor;
/// usually few, but a flat distribution with topP near 1 sorts most of the vocabulary).
///
/// A value holds scratch buffers; use one per thread.
public struct Sampler {
    public let parameters: SamplingParameters
    private var scaled: [Float] = []
    private var selection: [Float] = []
    private var weights: [Float] = []
    /// `[ceil(vocabularySize / 16)]`: c_j of the current `weights` (see the type's comment).
    private var chunkSums: [Double] = []
    private var candidates: [UInt64] = []

    public init(_ parameters: SamplingParameters) throws {
        try parameters.validate()
        self.parameters = parameters
    }

    /// The next token. `previousTokens` are the tokens the repetition penalty applies to (ids outside the row are
    /// ignored). Greedy parameters consume no random number; sampling consumes exactly one `nextDouble()`.
    public mutating func sample(logits: ArraySlice<Float>, previousTokens: Set<Int> = [],
                                random: inout Xoshiro256StarStar) throws -> Int {
        if parameters.isGreedy { return try greedy(logits: logits, previousTokens: previousTokens) }
        let keptMass = try filter(logits: logits, previousTokens: previousTokens)
        let u = random.nextDouble() * keptMass
        return weights.withUnsafeBufferPointer { w -> Int in
            var cumulative = 0.0
            var start = 0
            // Skip whole 16-token chunks while the running sum of their sums c_j stays <= u.
            while start + 16 <= w.count {
                let chunkSum = chunkSums[start / 16]
                if cumulative + chunkSum > u { break }
                cumulative += chunkSum
                start += 16
            }
            for token in start ..< w.count where w[token] > 0 {
                cumulative += Double(w[token])
                if cumulative > u { return token }
            }
            // Rounding left u at or past the end of the sum: take the last kept token.
            return (0 ..< w.count).last { w[$0] > 0 }!
        }
    }

    /// The distribution `sample` draws from: probabilities summing to 1, zero for removed tokens (one-hot at the
    /// argmax for greedy parameters).
    public mutating func distribution(logits: ArraySlice<Float>, previousTokens: Set<Int> = []) throws -> [Double] {
        if parameters.isGreedy {
            var oneHot = [Double](repeating: 0, count: logits.count)
            oneHot[try greedy(logits: logits, previousTokens: previousTokens)] = 1
            return oneHot
        }
        let keptMass = try filter(logits: logits, previousTokens: previousTokens)
        return weights.map { Double($0) / keptMass }
    }

    /// Argmax of the penalized logits, ties to the lowest id, NaN ignored. Without a repetition penalty the logits
    /// are read as they are (the penalized copy would equal them, NaN aside, which the argmax ignores anyway).
    private mutating func greedy(logits: ArraySlice<Float>, previousTokens: Set<Int>) throws -> Int {
        func argmax(_ x: UnsafeBufferPointer<Float>) -> Int {
            x.baseAddress.map { Kernels.argmax($0, count: x.count) } ?? -1
        }
        let best: Int
        if parameters.repetitionPenalty == 1 {
            best = logits.withUnsafeBufferPointer(argmax)
        } else {
            penalize(logits: logits, previousTokens: previousTokens)
            best = scaled.withUnsafeBufferPointer(argmax)
        }
        guard best >= 0 else {
            throw SamplingError.invalidLogits("no logit is a number above -infinity (\(logits.count) values)")
        }
        return best
    }

    /// scaled = logits with the repetition penalty applied, NaN replaced by -infinity.
    private mutating func penalize(logits: ArraySlice<Float>, previousTokens: Set<Int>) {
        if scaled.count != logits.count { scaled = [Float](repeating: 0, count: logits.count) }
        let penalty = parameters.repetitionPenalty
        scaled.withUnsafeMutableBufferPointer { out in
            logits.withUnsafeBufferPointer { input in
                for i in 0 ..< input.count {
                    let value = input[i]
                    out[i] = value.isNaN ? -.infinity : value
                }
            }
            guard penalty != 1 else { return }
            for token in previousTokens where token >= 0 && token < out.count {
                let value = out[token]
                out[token] = value > 0 ? value / penalty : value * penalty
            }
        }
    }

    /// Fills `weights` with the kept, unnormalized probabilities exp(s - max s) (0 for removed tokens) and returns
    /// their sum.
    private mutating func filter(logits: ArraySlice<Float>, previousTokens: Set<Int>) throws -> Double {
        penalize(logits: logits, previousTokens: previousTokens)
        let vocabulary = scaled.count
        let temperature = parameters.temperature
        let maximum: Float = scaled.withUnsafeMutableBufferPointer { values in
            if temperature != 1 {
                for i in 0 ..< values.count { values[i] = values[i] / temperature }
            }
            return Kernels.maximum(values.baseAddress!, count: values.count)
        }
        guard maximum.isFinite else {
            throw SamplingError.invalidLogits(maximum == .infinity
                ? "a logit is +infinity"
                : "no logit is a number above -infinity (\(vocabulary) values)")
        }
        var threshold = -Float.infinity
        if parameters.topK > 0 && parameters.topK < vocabulary { threshold = kthLargest(parameters.topK) }
        if weights.count != vocabulary { weights = [Float](repeating: 0, count: vocabulary) }
        scaled.withUnsafeBufferPointer { values in
            weights.withUnsafeMutableBufferPointer { w in
                var i = 0
                while i + 16 <= values.count { // whole chunks (loads and stores written out to be inlined here)
                    let chunk = UnsafeRawPointer(values.baseAddress! + i).loadUnaligned(as: SIMD16<Float>.self)
                    let e = FastExp.nonPositive(chunk - maximum).replacing(with: 0, where: chunk .< threshold)
                    UnsafeMutableRawPointer(w.baseAddress! + i).storeBytes(of: e, as: SIMD16<Float>.self)
                    i += 16
                }
                if i < values.count {
                    let lanes = values.count - i
                    let chunk = load16(values.baseAddress! + i, count: lanes, fill: -.infinity)
                    let e = FastExp.nonPositive(chunk - maximum).replacing(with: 0, where: chunk .< threshold)
                    store16(e, w.baseAddress! + i, count: lanes)
                }
            }
        }
        var total = sumChunks()
        if parameters.topP < 1 || parameters.minP > 0 {
            if parameters.topP < 1 { applyTopP(Double(parameters.topP), total: total) }
            if parameters.minP > 0 { applyMinP(parameters.minP) }
            total = sumChunks() // the kept mass, summed as the draw walks it
        }
        return total
    }

    /// Fills `chunkSums` from `weights` and returns Σw = c_0 + c_1 + … (see the type's comment). Each c_j is one
    /// chain of additions in id order; eight chunks' chains advance side by side (independent chains, so the
    /// additions overlap in the CPU instead of waiting on each other's latency), which leaves every value as if
    /// each chunk were summed alone.
    private mutating func sumChunks() -> Double {
        let n = weights.count
        let chunks = (n + 15) / 16
        if chunkSums.count != chunks { chunkSums = [Double](repeating: 0, count: chunks) }
        return weights.withUnsafeBufferPointer { w -> Double in
            chunkSums.withUnsafeMutableBufferPointer { sums -> Double in
                var j = 0
                while j + 8 <= n / 16 {
                    let p = w.baseAddress! + 16 * j
                    var s = SIMD8<Double>()
                    for t in 0 ..< 8 { s[t] = Double(p[16 * t]) }
                    for k in 1 ..< 16 {
                        for t in 0 ..< 8 { s[t] += Double(p[16 * t + k]) }
                    }
                    for t in 0 ..< 8 { sums[j + t] = s[t] }
                    j += 8
                }
                while j < chunks {
                    var s = Double(w[16 * j])
                    for k in 16 * j + 1 ..< min(16 * j + 16, n) { s += Double(w[k]) }
                    sums[j] = s
                    j += 1
                }
                var total = 0.0
                for c in sums { total += c }
                return total
            }
        }
    }

    /// The k-th largest value of `scaled` (1-based k). For k <= 1024 a size-k min-heap scan (almost every value is
    /// rejected by one comparison with the heap's minimum); otherwise a 3-way quickselect on a copy.
    private mutating func kthLargest(_ k: Int) -> Float {
        if k <= 1024 {
            selection.removeAll(keepingCapacity: true)
            return scaled.withUnsafeBufferPointer { values -> Float in
                var heap = MinHeap(capacity: k)
                for value in values where heap.count < k || value > heap.minimum {
                    heap.insertKeepingLargest(value, limit: k)
                }
                return heap.minimum
            }
        }
        selection.removeAll(keepingCapacity: true)
        selection.append(contentsOf: scaled)
        return selection.withUnsafeMutableBufferPointer { a -> Float in
            let target = k - 1 // index in descending order
            var low = 0
            var high = a.count - 1
            while low < high {
                let middle = low + (high - low) / 2
                let pivot = Sampler.medianOfThree(a[low], a[middle], a[high])
                // Partition a[low...high] into [> pivot][== pivot][< pivot].
                var lessThan = low
                var i = low
                var greaterThan = high
                while i <= greaterThan {
                    if a[i] > pivot {
                        a.swapAt(lessThan, i)
                        lessThan += 1
                        i += 1
                    } else if a[i] < pivot {
                        a.swapAt(i, greaterThan)
                        greaterThan -= 1
                    } else {
                        i += 1
                    }
                }
                if target < lessThan {
                    high = lessThan - 1
                } else if target > greaterThan {
                    low = greaterThan + 1
                } else {
                    return pivot
                }
            }
            return a[low]
        }
    }

    private static func medianOfThree(_ a: Float, _ b: Float, _ c: Float) -> Float {
        max(min(a, b), min(max(a, b), c))
    }

    /// Keeps the tokens ranked (probability descending, then id ascending) before the running sum reaches
    /// topP × total. Only tokens above a weight floor are sorted: the floor starts at 10⁻⁴ × the largest weight (1)
    /// and is lowered until the tokens above it hold >= topP × total, so the kept prefix lies among them (every
    /// token below the floor ranks after them).
    private mutating func applyTopP(_ topP: Double, total: Double) {
        let target = topP * total
        var floor: Float = 1e-4
        while true {
            candidates.removeAll(keepingCapacity: true)
            var mass = 0.0
            weights.withUnsafeBufferPointer { w in
                for i in 0 ..< w.count where w[i] > floor {
                    // Sorting these keys descending orders by weight descending, then id ascending (weights are
                    // positive, so their bit patterns sort like their values).
                    candidates.append(UInt64(w[i].bitPattern) << 32 | UInt64(UInt32.max - UInt32(i)))
                    mass += Double(w[i])
                }
            }
            if mass >= target || floor == 0 { break }
            floor = floor < 1e-30 ? 0 : floor * 1e-4
        }
        candidates.sort(by: >)
        var before = 0.0
        var keptCount = 0
        for key in candidates {
            if before >= target && keptCount > 0 { break }
            before += Double(Float(bitPattern: UInt32(key >> 32)))
            keptCount += 1
        }
        weights.withUnsafeMutableBufferPointer { w in
            for i in 0 ..< w.count { w[i] = 0 }
            for key in candidates.prefix(keptCount) {
                let token = Int(UInt32.max - UInt32(truncatingIfNeeded: key))
                w[token] = Float(bitPattern: UInt32(key >> 32))
            }
        }
    }

    /// Removes tokens with p < minP · max p (the most probable token always stays).
    private mutating func applyMinP(_ minP: Float) {
        weights.withUnsafeMutableBufferPointer { w in
            let threshold = minP * max(0, Kernels.maximum(w.baseAddress!, count: w.count))
            for i in 0 ..< w.count where w[i] < threshold { w[i] = 0 }
        }
    }
}

/// A binary min-heap of at most `limit` floats: the k largest values seen, smallest on top.
private struct MinHeap {
    private var items: [Float]

    init(capacity: Int) { items = []; items.reserveCapacity(capacity) }

    var count: Int { items.count }
    var minimum: Float { items.first ?? -.infinity }

    mutating func insertKeepingLargest(_ value: Float, limit: Int) {
        if items.count < limit {
            items.append(value)
            var child = items.count - 1
            while child > 0 {
                let parent = (child - 1) / 2
                guard items[child] < items[parent] else { break }
                items.swapAt(child, parent)
                child = parent
            }
        } else {
            items[0] = value
            var parent = 0
            while true {
                let left = 2 * parent + 1
                let right = left + 1
                var smallest = parent
                if left < items.count && items[left] < items[smallest] { smallest = left }
                if right < items.count && items[right] < items[smallest] { smallest = right }
                if smallest == parent { break }
                items.swapAt(parent, smallest)
                parent = smallest
            }
        }
    }
}
