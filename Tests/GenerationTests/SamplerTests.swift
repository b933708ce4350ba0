import Foundation
import Generation
import Numerics
import XCTest

final class SamplerTests: XCTestCase {
    /// The distributions transformers samples from (Fixtures/make_sampler_reference.py runs its logits processors).
    func testDistributionsMatchTransformers() throws {
        let reference = try loadFixtureJSON("sampler_reference.json")
        let cases = try XCTUnwrap(reference["cases"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 16)
        for c in cases {
            let name = c["name"] as? String ?? "?"
            let logits = try XCTUnwrap(c["logits"] as? [Double]).map(Float.init)
            let parameters = SamplingParameters(
                temperature: Float(try XCTUnwrap(c["temperature"] as? Double)),
                topK: try XCTUnwrap(c["top_k"] as? Int),
                topP: Float(try XCTUnwrap(c["top_p"] as? Double)),
                minP: Float(try XCTUnwrap(c["min_p"] as? Double)),
                repetitionPenalty: Float(try XCTUnwrap(c["repetition_penalty"] as? Double)))
            let history = Set(try XCTUnwrap(c["history"] as? [Int]))
            let expected = try XCTUnwrap(c["probabilities"] as? [Double])
            var sampler = try Sampler(parameters)
            let got = try sampler.distribution(logits: logits[...], previousTokens: history)
            XCTAssertEqual(got.count, expected.count, name)
            for (token, (g, e)) in zip(got, expected).enumerated() {
                XCTAssertEqual(g > 0, e > 0, "\(name): token \(token) kept here \(g > 0), by transformers \(e > 0)")
                XCTAssertEqual(g, e, accuracy: 1e-5, "\(name): token \(token)")
            }
        }
    }

    func testGreedyTakesLowestIdAmongTiesAndHonoursPenalty() throws {
        var sampler = try Sampler(.greedy)
        var random = Xoshiro256StarStar(seed: 1)
        let before = random
        XCTAssertEqual(try sampler.sample(logits: [1, 5, 2, 5][...], random: &random), 1)
        XCTAssertEqual(random.next(), { var r = before; return r.next() }(), "greedy must not consume randomness")
        XCTAssertEqual(try sampler.sample(logits: [Float.nan, 0, -1][...], random: &random), 1)
        var penalized = try Sampler(SamplingParameters(temperature: 0, repetitionPenalty: 2))
        // 5 / 2 = 2.5 < 3: the repeated token loses.
        XCTAssertEqual(try penalized.sample(logits: [5, 3, 1][...], previousTokens: [0], random: &random), 1)
        // -1 × 2 = -2 < -1.5: negative logits are pushed down, not up.
        XCTAssertEqual(try penalized.sample(logits: [-1, -1.5][...], previousTokens: [0], random: &random), 1)
        XCTAssertEqual(try sampler.distribution(logits: [0, 2, 1][...]), [0, 1, 0])
    }

    /// Greedy choice on vocabularies with whole 16-value chunks and a tail: the lowest id among the largest
    /// logits, NaN and −∞ never chosen, as a plain scan finds it (ties placed in different lanes, in the same lane,
    /// in the tail), with and without a repetition penalty.
    func testGreedyOnALargeVocabularyMatchesAPlainScan() throws {
        func plain(_ x: [Float]) -> Int? {
            var best: Int?
            for (i, v) in x.enumerated() where v > -.infinity && (best == nil || v > x[best!]) { best = i }
            return best
        }
        var random = Xoshiro256StarStar(seed: 8)
        var sampler = try Sampler(.greedy)
        var penalized = try Sampler(SamplingParameters(temperature: 0, repetitionPenalty: 1.5))
        for trial in 0 ..< 300 {
            let n = [1, 15, 16, 17, 33, 160, 1003][trial % 7]
            // Few distinct values, so the largest is often tied.
            var x = (0 ..< n).map { _ in Float(random.next(below: 6)) - 3 }
            if trial % 3 == 0 { x[Int(random.next(below: UInt64(n)))] = .nan }
            if trial % 4 == 0 { x[Int(random.next(below: UInt64(n)))] = -.infinity }
            if trial % 50 == 7 { x = [Float](repeating: -.infinity, count: n); x[n / 2] = .nan }
            if let expected = plain(x) {
                XCTAssertEqual(try sampler.sample(logits: x[...], random: &random), expected, "trial \(trial): \(x)")
            } else {
                XCTAssertThrowsError(try sampler.sample(logits: x[...], random: &random), "trial \(trial)")
            }
            let seen: Set<Int> = [0, n / 2, n - 1]
            var y = x.map { $0.isNaN ? -Float.infinity : $0 }
            for t in seen { y[t] = y[t] > 0 ? y[t] / 1.5 : y[t] * 1.5 }
            if let expected = plain(y) {
                XCTAssertEqual(try penalized.sample(logits: x[...], previousTokens: seen, random: &random), expected,
                               "trial \(trial), penalized: \(y)")
            }
        }
        XCTAssertThrowsError(try sampler.sample(logits: [Float]()[...], random: &random))
    }

    func testInvalidParametersAreRejected() {
        let bad: [(SamplingParameters, String)] = [
            (SamplingParameters(temperature: -0.5), "temperature"),
            (SamplingParameters(temperature: .nan), "temperature"),
            (SamplingParameters(temperature: .infinity), "temperature"),
            (SamplingParameters(topK: -1), "top-k"),
            (SamplingParameters(topP: 0), "top-p"),
            (SamplingParameters(topP: 1.5), "top-p"),
            (SamplingParameters(topP: .nan), "top-p"),
            (SamplingParameters(minP: -0.1), "min-p"),
            (SamplingParameters(minP: 1.1), "min-p"),
            (SamplingParameters(repetitionPenalty: 0), "repetition penalty"),
            (SamplingParameters(repetitionPenalty: -1), "repetition penalty"),
        ]
        for (parameters, word) in bad {
            XCTAssertThrowsError(try Sampler(parameters), "\(parameters)") { error in
                XCTAssertTrue("\(error)".contains(word), "\(error) should name \(word)")
            }
        }
        XCTAssertNoThrow(try Sampler(SamplingParameters(temperature: 0.7, topK: 40, topP: 1, minP: 1, repetitionPenalty: 0.9)))
    }

    func testInvalidLogitsAreRejected() throws {
        var random = Xoshiro256StarStar(seed: 1)
        var sampler = try Sampler(SamplingParameters())
        XCTAssertThrowsError(try sampler.sample(logits: [Float.nan, .nan][...], random: &random))
        XCTAssertThrowsError(try sampler.sample(logits: [-Float.infinity, .nan][...], random: &random))
        XCTAssertThrowsError(try sampler.sample(logits: [Float.infinity, 0][...], random: &random))
        var greedy = try Sampler(.greedy)
        XCTAssertThrowsError(try greedy.sample(logits: [Float.nan][...], random: &random))
        XCTAssertThrowsError(try greedy.sample(logits: [][...], random: &random))
        // A single NaN among numbers is never chosen.
        for _ in 0 ..< 100 {
            XCTAssertNotEqual(try sampler.sample(logits: [0, .nan, 0][...], random: &random), 1)
        }
    }

    /// Probabilities 0.5, 0.3, 0.15, 0.05 given as log-probabilities.
    private let quarterLogits: [Float] = [0.5, 0.3, 0.15, 0.05].map { Float(Foundation.log($0)) }

    private func frequencies(_ parameters: SamplingParameters, logits: [Float], draws: Int, seed: UInt64) throws -> [Double] {
        var sampler = try Sampler(parameters)
        var random = Xoshiro256StarStar(seed: seed)
        var counts = [Int](repeating: 0, count: logits.count)
        for _ in 0 ..< draws { counts[try sampler.sample(logits: logits[...], random: &random)] += 1 }
        return counts.map { Double($0) / Double(draws) }
    }

    private func assertClose(_ got: [Double], _ expected: [Double], draws: Int, _ message: String) {
        for (g, e) in zip(got, expected) {
            let sigma = (e * (1 - e) / Double(draws)).squareRoot()
            XCTAssertEqual(g, e, accuracy: max(5 * sigma, 1e-12), "\(message): \(got) vs \(expected)")
        }
    }

    func testSampleFrequenciesFollowHandComputedDistributions() throws {
        let draws = 100_000
        assertClose(try frequencies(SamplingParameters(), logits: quarterLogits, draws: draws, seed: 3),
                    [0.5, 0.3, 0.15, 0.05], draws: draws, "plain")
        // top-p 0.75: 0.5 is below 0.75 so 0.3 is kept too; with 0.8 in hand the rest goes.
        assertClose(try frequencies(SamplingParameters(topP: 0.75), logits: quarterLogits, draws: draws, seed: 4),
                    [0.625, 0.375, 0, 0], draws: draws, "top-p")
        // top-k 3 drops 0.05.
        assertClose(try frequencies(SamplingParameters(topK: 3), logits: quarterLogits, draws: draws, seed: 5),
                    [0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0], draws: draws, "top-k")
        // min-p 0.2: threshold 0.1 drops 0.05.
        assertClose(try frequencies(SamplingParameters(minP: 0.2), logits: quarterLogits, draws: draws, seed: 6),
                    [0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0], draws: draws, "min-p")
        // temperature 0.5 squares the probabilities: 0.25, 0.09, 0.0225, 0.0025 over 0.365.
        let squared = [0.25, 0.09, 0.0225, 0.0025].map { $0 / 0.365 }
        assertClose(try frequencies(SamplingParameters(temperature: 0.5), logits: quarterLogits, draws: draws, seed: 7),
                    squared, draws: draws, "temperature")
    }

    func testSamplingConsumesOneUniformAndSeedsReproduce() throws {
        var sampler = try Sampler(SamplingParameters(temperature: 0.9, topK: 3, topP: 0.9))
        var a = Xoshiro256StarStar(seed: 11)
        var b = Xoshiro256StarStar(seed: 11)
        let tokensA = try (0 ..< 50).map { _ in try sampler.sample(logits: quarterLogits[...], random: &a) }
        let tokensB = try (0 ..< 50).map { _ in try sampler.sample(logits: quarterLogits[...], random: &b) }
        XCTAssertEqual(tokensA, tokensB)
        var c = Xoshiro256StarStar(seed: 11)
        for _ in 0 ..< 50 { _ = c.next() }
        XCTAssertEqual(a.next(), c.next())
    }

    /// Every draw is the inverse of `distribution` at the uniform it consumed: the first token, in id order, whose
    /// cumulative probability exceeds u. On a vocabulary of 62 whole 16-token chunks plus a partial one, with each
    /// filter, so the per-chunk sums the draw skips by (also after top-p and min-p zero some weights) are checked.
    func testDrawsInvertTheDistributionOnALargeVocabulary() throws {
        var random = Xoshiro256StarStar(seed: 5)
        let vocabulary = 62 * 16 + 11
        let logits = (0 ..< vocabulary).map { _ in Float(random.nextDouble() * 6 - 3) }
        let settings = [SamplingParameters(), SamplingParameters(temperature: 0.7), SamplingParameters(topK: 300),
                        SamplingParameters(topP: 0.9), SamplingParameters(minP: 0.2),
                        SamplingParameters(temperature: 1.3, topK: 700, topP: 0.8, minP: 0.05)]
        for parameters in settings {
            var sampler = try Sampler(parameters)
            let p = try sampler.distribution(logits: logits[...])
            var draws = Xoshiro256StarStar(seed: 17)
            var tokensSeen = Set<Int>()
            for _ in 0 ..< 2000 {
                var copy = draws
                let u = copy.nextDouble()
                var cumulative = 0.0
                let expected = (0 ..< vocabulary).first { cumulative += p[$0]; return cumulative > u }
                    ?? (0 ..< vocabulary).last { p[$0] > 0 }!
                let token = try sampler.sample(logits: logits[...], random: &draws)
                XCTAssertEqual(token, expected, "\(parameters) at u = \(u)")
                if token != expected { break }
                tokensSeen.insert(token)
            }
            XCTAssertGreaterThan(tokensSeen.count, 20, "\(parameters): the draws should spread over many tokens")
        }
    }

    /// On a large vocabulary with many equal logits, top-k and top-p agree with a brute-force full sort.
    func testLargeVocabularyFiltersAgreeWithFullSort() throws {
        var random = Xoshiro256StarStar(seed: 99)
        let vocabulary = 50_000
        // Logits on a coarse grid, so many ties, including at the top-k boundary.
        let logits = (0 ..< vocabulary).map { _ in Float(random.next(below: 60)) * 0.25 - 5 }
        for (k, p) in [(1, Float(1)), (37, 1), (500, 1), (1024, 1), (1025, 1), (2000, 1), (30_000, 1), (0, 0.3), (0, 0.9), (0, 0.999), (800, 0.5), (3000, 0.95)] {
            var sampler = try Sampler(SamplingParameters(topK: k, topP: p))
            let got = try sampler.distribution(logits: logits[...])
            // Brute force: descending by logit, ties by id.
            let order = (0 ..< vocabulary).sorted { logits[$0] != logits[$1] ? logits[$0] > logits[$1] : $0 < $1 }
            var kept = Set(order)
            if k > 0 {
                let threshold = logits[order[k - 1]]
                kept = kept.filter { logits[$0] >= threshold }
            }
            let maximum = Double(logits[order[0]])
            let weights = (0 ..< vocabulary).map { kept.contains($0) ? Foundation.exp(Double(logits[$0]) - maximum) : 0 }
            let total = weights.reduce(0, +)
            if p < 1 {
                var before = 0.0
                var nucleus = Set<Int>()
                for token in order where kept.contains(token) {
                    if before >= Double(p) { break }
                    nucleus.insert(token)
                    before += weights[token] / total
                }
                kept = nucleus
            }
            let gotKept = Set((0 ..< vocabulary).filter { got[$0] > 0 })
            XCTAssertEqual(gotKept, kept, "top-k \(k) top-p \(p)")
            XCTAssertEqual(got.reduce(0, +), 1, accuracy: 1e-9)
        }
    }
}
