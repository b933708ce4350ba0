import Foundation
import Training
import XCTest

/// GRPO loss against values computed by hand (written out below), and its coefficients against finite differences.
final class GRPOLossTests: XCTestCase {
    /// Old log-probabilities that give the importance ratios ρ for the given current ones: old = logp − ln ρ.
    static func old(_ logps: [Float], ratios: [Double]) -> [Float] {
        zip(logps, ratios).map { Float(Double($0) - log($1)) }
    }

    /// Two completions, ε_low 0.2, ε_high 0.28, β 0:
    ///
    /// completion 0, A = +1, ratios [1, 1.5, 0.5]:
    ///   t0 ρ=1   → loss −1,                         ∂ = −Aρ = −1
    ///   t1 ρ=1.5 → clipped at 1.28: loss −1.28,     ∂ = 0   (high-clipped)
    ///   t2 ρ=0.5 → min(0.5, 0.8) = 0.5: loss −0.5,  ∂ = −0.5  (A > 0: not counted as clipped)
    ///   sum −2.78 over 3 tokens
    /// completion 1, A = −2, ratios [0.5, 1.5, 1.1, 1, (masked)]:
    ///   t0 ρ=0.5 → −A·max(0.5, 0.8) = 1.6,          ∂ = 0   (low-clipped)
    ///   t1 ρ=1.5 → −A·max(1.5, 1.28) = 3.0,         ∂ = −Aρ = 3.0
    ///   t2 ρ=1.1 → 2.2,                             ∂ = 2.2
    ///   t3 ρ=1   → 2.0,                             ∂ = 2.0
    ///   sum 8.8 over 4 tokens
    static let batch: [GRPOSequence] = {
        let l0: [Float] = [-0.5, -1.25, -2]
        let l1: [Float] = [-0.75, -0.3, -3, -1.5, -0.1]
        return [
            GRPOSequence(logps: l0, oldLogps: old(l0, ratios: [1, 1.5, 0.5]), advantage: 1, mask: [true, true, true]),
            GRPOSequence(logps: l1, oldLogps: old(l1, ratios: [0.5, 1.5, 1.1, 1, 7]), advantage: -2,
                         mask: [true, true, true, true, false]),
        ]
    }()
    static let derivatives: [[Double]] = [[-1, 0, -0.5], [0, 3.0, 2.2, 2.0, 0]]

    func check(_ result: GRPOLossResult, loss: Double, scales: [Double], file: StaticString = #filePath,
               line: UInt = #line) {
        XCTAssertEqual(result.loss, loss, accuracy: 1e-6, file: file, line: line)
        for (i, d) in GRPOLossTests.derivatives.enumerated() {
            XCTAssertEqual(result.coefficients[i].count, d.count, file: file, line: line)
            for t in d.indices {
                XCTAssertEqual(Double(result.coefficients[i][t]), scales[i] * d[t], accuracy: 1e-6,
                               "completion \(i) token \(t)", file: file, line: line)
            }
        }
        XCTAssertEqual(result.activeTokens, 7, file: file, line: line)
        XCTAssertEqual(result.clipRatioLow, 1.0 / 7, accuracy: 1e-12, file: file, line: line)
        XCTAssertEqual(result.clipRatioHigh, 1.0 / 7, accuracy: 1e-12, file: file, line: line)
        XCTAssertEqual(result.clipRatioRegion, 2.0 / 7, accuracy: 1e-12, file: file, line: line)
        XCTAssertNil(result.meanKL, file: file, line: line)
    }

    func testDAPOTokenMean() throws {
        let c = GRPOLossConfiguration(epsilonLow: 0.2, epsilonHigh: 0.28, aggregation: .dapo)
        // (−2.78 + 8.8) / 7 tokens
        check(try GRPOLoss.compute(GRPOLossTests.batch, configuration: c), loss: 6.02 / 7, scales: [1.0 / 7, 1.0 / 7])
    }

    func testGRPOSequenceMean() throws {
        let c = GRPOLossConfiguration(epsilonLow: 0.2, epsilonHigh: 0.28, aggregation: .grpo)
        // (−2.78/3 + 8.8/4) / 2 sequences
        check(try GRPOLoss.compute(GRPOLossTests.batch, configuration: c), loss: (-2.78 / 3 + 2.2) / 2,
              scales: [1.0 / 6, 1.0 / 8])
    }

    func testDrGRPOConstantNormalizer() throws {
        let c = GRPOLossConfiguration(epsilonLow: 0.2, epsilonHigh: 0.28, aggregation: .drGRPO, maxCompletionLength: 5)
        // (−2.78 + 8.8) / (2 sequences × 5)
        check(try GRPOLoss.compute(GRPOLossTests.batch, configuration: c), loss: 6.02 / 10, scales: [0.1, 0.1])
        XCTAssertThrowsError(try GRPOLoss.compute(GRPOLossTests.batch,
                                                  configuration: .init(aggregation: .drGRPO))) {
            XCTAssertTrue("\($0)".contains("maximum completion length"))
        }
    }

    /// One completion, A = 0.5, first pass (ratio 1), β = 0.1, ref − logp = [+ln 2, −ln 2]:
    ///   kl(+ln2) = 2 − ln2 − 1 = 1 − ln2,  ∂kl/∂logp = 1 − 2 = −1
    ///   kl(−ln2) = ½ + ln2 − 1 = ln2 − ½,   ∂kl/∂logp = 1 − ½ = ½
    ///   token losses −0.5 + 0.1·kl;  dapo loss = (−1 + 0.1·(1 − ln2 + ln2 − ½)) / 2 = −0.475; mean KL 0.25
    ///   coefficients ((−0.5 + 0.1·(−1))/2, (−0.5 + 0.1·0.5)/2) = (−0.3, −0.225)
    func testKLTerm() throws {
        let logps: [Float] = [-1, -2]
        let ref: [Float] = [Float(-1 + log(2.0)), Float(-2 - log(2.0))]
        let s = GRPOSequence(logps: logps, referenceLogps: ref, advantage: 0.5, mask: [true, true])
        let r = try GRPOLoss.compute([s], configuration: .init(beta: 0.1, aggregation: .dapo))
        XCTAssertEqual(r.loss, -0.475, accuracy: 1e-6)
        XCTAssertEqual(r.meanKL!, 0.25, accuracy: 1e-6)
        XCTAssertEqual(r.coefficients[0][0], -0.3, accuracy: 1e-6)
        XCTAssertEqual(r.coefficients[0][1], -0.225, accuracy: 1e-6)
        XCTAssertEqual(r.clipRatioRegion, 0)
        // β > 0 without reference log-probabilities is refused; β = 0 ignores them.
        XCTAssertThrowsError(try GRPOLoss.compute([GRPOSequence(logps: logps, advantage: 1, mask: [true, true])],
                                                  configuration: .init(beta: 0.1))) {
            XCTAssertTrue("\($0)".contains("reference"))
        }
        let off = try GRPOLoss.compute([s], configuration: .init(beta: 0))
        XCTAssertEqual(off.loss, -0.5, accuracy: 1e-7)
        XCTAssertNil(off.meanKL)
    }

    /// TRL's `delta`: A = −1, ratio 2: uncapped loss −A·max(2, 1.2) = 2 with ∂ = −Aρ = 2; capped at δ = 1.4 the
    /// loss is −A·max(1.4, 1.2) = 1.4 with ∂ = 0. A ratio below the cap (1.1) is unaffected: loss 1.1, ∂ 1.1.
    func testImportanceRatioCap() throws {
        let logps: [Float] = [-1, -1]
        let s = GRPOSequence(logps: logps, oldLogps: GRPOLossTests.old(logps, ratios: [2, 1.1]), advantage: -1,
                             mask: [true, true])
        let plain = try GRPOLoss.compute([s], configuration: .init(aggregation: .drGRPO, maxCompletionLength: 1))
        XCTAssertEqual(plain.loss, (2 + 1.1) / 1, accuracy: 1e-5)
        XCTAssertEqual(plain.coefficients[0][0], 2, accuracy: 1e-5)
        let capped = try GRPOLoss.compute([s], configuration: .init(aggregation: .drGRPO, importanceRatioCap: 1.4,
                                                                    maxCompletionLength: 1))
        XCTAssertEqual(capped.loss, 1.4 + 1.1, accuracy: 1e-5)
        XCTAssertEqual(capped.coefficients[0][0], 0)
        XCTAssertEqual(capped.coefficients[0][1], 1.1, accuracy: 1e-5)
        XCTAssertThrowsError(try GRPOLoss.compute([s], configuration: .init(importanceRatioCap: 1.1))) {
            XCTAssertTrue("\($0)".contains("1 + ε_high"))
        }
    }

    /// A truncated completion masked entirely contributes nothing: dapo counts only the other's tokens, grpo
    /// still counts it as a sequence (with loss 0), like TRL.
    func testMaskedTruncatedCompletion() throws {
        let kept = GRPOSequence(logps: [-1, -1], advantage: 1, mask: [true, true])
        let mask = GRPOSequence.completionMask(length: 3, truncated: true, maskTruncated: true)
        XCTAssertEqual(mask, [false, false, false])
        XCTAssertEqual(GRPOSequence.completionMask(length: 2, truncated: true, maskTruncated: false), [true, true])
        let dropped = GRPOSequence(logps: [-1, -2, -3], advantage: -1, mask: mask)
        let dapo = try GRPOLoss.compute([kept, dropped], configuration: .init(aggregation: .dapo))
        XCTAssertEqual(dapo.loss, -1, accuracy: 1e-7)
        XCTAssertEqual(dapo.coefficients[1], [0, 0, 0])
        XCTAssertEqual(dapo.coefficients[0], [-0.5, -0.5])
        let grpo = try GRPOLoss.compute([kept, dropped], configuration: .init(aggregation: .grpo))
        XCTAssertEqual(grpo.loss, -0.5, accuracy: 1e-7)
        XCTAssertEqual(grpo.coefficients[0], [-0.25, -0.25])
    }

    func testBadInputIsRefused() throws {
        XCTAssertThrowsError(try GRPOLoss.compute([], configuration: .init())) { XCTAssertTrue("\($0)".contains("empty")) }
        XCTAssertThrowsError(try GRPOLoss.compute([GRPOSequence(logps: [-1], advantage: 1, mask: [true, false])],
                                                  configuration: .init())) { XCTAssertTrue("\($0)".contains("mask")) }
        XCTAssertThrowsError(try GRPOLoss.compute([GRPOSequence(logps: [.nan], advantage: 1, mask: [true])],
                                                  configuration: .init())) { XCTAssertTrue("\($0)".contains("not finite")) }
        XCTAssertThrowsError(try GRPOLoss.compute([GRPOSequence(logps: [-1], advantage: 1, mask: [true])],
                                                  configuration: .init(epsilonLow: 1.5))) {
            XCTAssertTrue("\($0)".contains("ε_low"))
        }
    }

    /// The coefficients are ∂loss/∂logp: central differences of `compute` in Double-rounded Float steps, on random
    /// inputs (both advantage signs, ratios on both sides of the clip range, KL on), for every aggregation.
    func testCoefficientsAreTheDerivative() throws {
        var state: UInt64 = 12345
        func uniform(_ a: Double, _ b: Double) -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return a + (b - a) * Double(state >> 11) / Double(1 << 53)
        }
        var batch: [GRPOSequence] = []
        for i in 0 ..< 4 {
            let n = 3 + i
            let logps = (0 ..< n).map { _ in Float(uniform(-3, -0.1)) }
            let old = logps.map { $0 - Float(uniform(-0.5, 0.5)) }
            let ref = logps.map { $0 + Float(uniform(-0.7, 0.7)) }
            let mask = (0 ..< n).map { $0 != 1 || i % 2 == 0 }
            batch.append(GRPOSequence(logps: logps, oldLogps: old, referenceLogps: ref,
                                      advantage: Float(uniform(-1.5, 1.5)), mask: mask))
        }
        for aggregation in LossAggregation.allCases {
            let c = GRPOLossConfiguration(epsilonLow: 0.2, epsilonHigh: 0.28, beta: 0.04, aggregation: aggregation,
                                          importanceRatioCap: 1.35, maxCompletionLength: 8)
            let result = try GRPOLoss.compute(batch, configuration: c)
            XCTAssertGreaterThan(result.clipRatioRegion, 0, "the random batch must exercise clipping")
            let h: Float = 1e-3
            var checked = 0
            for i in batch.indices {
                for t in batch[i].logps.indices {
                    var plus = batch, minus = batch
                    plus[i].logps[t] += h
                    minus[i].logps[t] -= h
                    let fd = (try GRPOLoss.compute(plus, configuration: c).loss
                        - GRPOLoss.compute(minus, configuration: c).loss)
                        / Double(plus[i].logps[t] - minus[i].logps[t])
                    XCTAssertEqual(Double(result.coefficients[i][t]), fd, accuracy: 2e-4 * max(1, abs(fd)),
                                   "\(aggregation) completion \(i) token \(t)")
                    if fd != 0 { checked += 1 }
                }
            }
            XCTAssertGreaterThan(checked, 10)
        }
    }

    /// Computing per sequence with `sequenceScales` + `terms` + `combine` equals `compute`.
    func testPerSequenceTermsCombine() throws {
        let c = GRPOLossConfiguration(epsilonLow: 0.2, epsilonHigh: 0.28, aggregation: .grpo)
        let batch = GRPOLossTests.batch
        let scales = try GRPOLoss.sequenceScales(activeTokenCounts: [3, 4], configuration: c)
        XCTAssertEqual(scales, [1.0 / 6, 1.0 / 8])
        let terms = try zip(batch, scales).map { try GRPOLoss.terms(of: $0, scale: $1, configuration: c) }
        XCTAssertEqual(GRPOLoss.combine(terms, beta: 0), try GRPOLoss.compute(batch, configuration: c))
    }
}
