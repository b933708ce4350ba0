import Foundation
import Numerics

/// Chooses the next token from one row of logits `[vocabularySize]` with `SamplingParameters` (the filter order and
/// each filter's exact rule are documented there).
///
/// Computation: penalized logits l' (Float, as transformers); scaled s = l' / temperature (Float); top-k marks
/// s < (k-th largest s) removed; p = softmax(s) over the survivors in Double; top-p keeps the most probable tokens
/// while the probability of the tokens ranked above stays < topP; min-p removes p < minP · max p; then
/// u = nextDouble() · (kept mass) picks the first token, in id order, whose running sum of kept probabilities
/// exceeds u (one uniform per sampled token). All passes are O(vocabularySize) except the sort of the (usually few)
/// top-p candidates.
///
/// A value holds scratch buffers; use one per thread.
public struct Sampler {
    public let parameters: SamplingParameters
    private var scaled: [Float] = []
    private var selection: [Float] = []
    private var probabilities: [Double] = []

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
        var cumulative = 0.0
        var lastKept = -1
        for (token, p) in probabilities.enumerated() where p > 0 {
            cumulative += p
            lastKept = token
            if cumulative > u { return token }
        }
        return lastKept // u fell into the rounding gap at the very end of the sum
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
        return probabilities.map { $0 / keptMass }
    }

    /// Argmax of the penalized logits, ties to the lowest id, NaN ignored.
    private mutating func greedy(logits: ArraySlice<Float>, previousTokens: Set<Int>) throws -> Int {
        penalize(logits: logits, previousTokens: previousTokens)
        var best = -1
        var bestValue = -Float.infinity
        for (token, value) in scaled.enumerated() where value > bestValue {
            best = token
            bestValue = value
        }
        guard best >= 0 else {
            throw SamplingError.invalidLogits("no logit is a number above -infinity (\(logits.count) values)")
        }
        return best
    }

    /// scaled = logits with the repetition penalty applied, NaN replaced by -infinity.
    private mutating func penalize(logits: ArraySlice<Float>, previousTokens: Set<Int>) {
        scaled.removeAll(keepingCapacity: true)
        scaled.append(contentsOf: logits)
        for i in scaled.indices where scaled[i].isNaN { scaled[i] = -.infinity }
        let penalty = parameters.repetitionPenalty
        guard penalty != 1 else { return }
        for token in previousTokens where token >= 0 && token < scaled.count {
            let value = scaled[token]
            scaled[token] = value > 0 ? value / penalty : value * penalty
        }
    }

    /// Fills `probabilities` with the kept, unnormalized probabilities and returns their sum.
    private mutating func filter(logits: ArraySlice<Float>, previousTokens: Set<Int>) throws -> Double {
        penalize(logits: logits, previousTokens: previousTokens)
        let vocabulary = scaled.count
        if parameters.temperature != 1 {
            let t = parameters.temperature
            for i in 0 ..< vocabulary { scaled[i] = scaled[i] / t }
        }
        let maximum = scaled.max() ?? -.infinity
        guard maximum.isFinite else {
            throw SamplingError.invalidLogits(maximum == .infinity
                ? "a logit is +infinity"
                : "no logit is a number above -infinity (\(vocabulary) values)")
        }
        if parameters.topK > 0 && parameters.topK < vocabulary {
            let threshold = kthLargest(parameters.topK)
            for i in 0 ..< vocabulary where scaled[i] < threshold { scaled[i] = -.infinity }
        }
        probabilities.removeAll(keepingCapacity: true)
        var total = 0.0
        let m = Double(maximum)
        for value in scaled {
            let p = value == -.infinity ? 0 : Foundation.exp(Double(value) - m)
            probabilities.append(p)
            total += p
        }
        for i in 0 ..< vocabulary { probabilities[i] /= total }
        var keptMass = 1.0
        if parameters.topP < 1 { keptMass = applyTopP(Double(parameters.topP)) }
        if parameters.minP > 0 { keptMass = applyMinP(Double(parameters.minP)) }
        return keptMass
    }

    /// The k-th largest value of `scaled` (1-based k), by 3-way quickselect on a copy: O(vocabulary) on average.
    private mutating func kthLargest(_ k: Int) -> Float {
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

    /// Keeps the tokens ranked (probability descending, then id ascending) before the running sum reaches topP.
    /// Only tokens above a probability floor are sorted: the floor starts at 10⁻⁴ · max p and is lowered until the
    /// tokens above it hold >= topP, so the kept prefix lies among them (every token below ranks after them).
    private mutating func applyTopP(_ topP: Double) -> Double {
        let largest = probabilities.max() ?? 0
        var floor = largest * 1e-4
        var candidates: [(token: Int, p: Double)] = []
        while true {
            candidates.removeAll(keepingCapacity: true)
            var mass = 0.0
            for (token, p) in probabilities.enumerated() where p > floor {
                candidates.append((token, p))
                mass += p
            }
            if mass >= topP || floor == 0 { break }
            floor = floor < 1e-300 ? 0 : floor * 1e-4
        }
        candidates.sort { $0.p != $1.p ? $0.p > $1.p : $0.token < $1.token }
        var before = 0.0
        var keptCount = 0
        for candidate in candidates {
            if before >= topP && keptCount > 0 { break }
            before += candidate.p
            keptCount += 1
        }
        for i in probabilities.indices { probabilities[i] = 0 }
        for candidate in candidates.prefix(keptCount) { probabilities[candidate.token] = candidate.p }
        return before
    }

    /// Removes tokens with p < minP · max p (the most probable token always stays).
    private mutating func applyMinP(_ minP: Double) -> Double {
        let threshold = minP * (probabilities.max() ?? 0)
        var mass = 0.0
        for i in probabilities.indices {
            if probabilities[i] < threshold { probabilities[i] = 0 } else { mass += probabilities[i] }
        }
        return mass
    }
}
