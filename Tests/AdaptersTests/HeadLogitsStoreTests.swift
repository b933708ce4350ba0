import Adapters
import Foundation
import Numerics
import Transformer
import XCTest

/// The closure-weighted backward keeps the head's logits of the scored rows between the log-probabilities and the
/// head backward (`HeadLogitsStore`, up to `TransformerModel.headLogitsBudget` bytes). Keeping none, some or all
/// rows must give the same loss, log-probabilities and gradient up to fp32 rounding (the head product of a row
/// may run in a different chunk of rows, hence another kernel, when it is recomputed).
final class HeadLogitsStoreTests: XCTestCase {
    override class func setUp() { BLAS.useSingleThread() }

    func testKeptLogitsGiveTheRecomputedGradient() throws {
        let (model, adapter) = try ClosureAndTemperatureGradientTests.adapter(bias: true)
        let tokens = SharedPromptBackwardTests.tokens, starts = SharedPromptBackwardTests.starts
        let rowBytes = model.config.vocabularySize * MemoryLayout<Float>.size
        func run(budget: Int, sharing: Bool) throws -> (loss: Double, gradient: [Float], logps: [Int: [Float]]) {
            let saved = TransformerModel.headLogitsBudget
            TransformerModel.headLogitsBudget = budget
            defer { TransformerModel.headLogitsBudget = saved }
            var logps: [Int: [Float]] = [:]
            let (loss, gradient) = try adapter.lossAndGradient(model: model, tokens: tokens, completionStart: starts,
                                                               temperature: 0.8, sharingPrompts: sharing) { i, l in
                logps[i] = l
                // Mixed signs and a zero (masked) token in the middle of each completion.
                return l.enumerated().map { t, v in t == 2 ? 0 : (i % 2 == 0 ? 1 : -1) * (0.5 + 0.02 * v) }
            }
            return (loss, gradient, logps)
        }
        for sharing in [false, true] {
            let recomputed = try run(budget: 0, sharing: sharing)
            XCTAssertGreaterThan(recomputed.gradient.map(abs).max()!, 1e-3)
            // 3 rows: most sequences are partly kept; 1 << 30: every scored row is kept.
            for budget in [3 * rowBytes, 1 << 30] {
                let kept = try run(budget: budget, sharing: sharing)
                let scale = Double(recomputed.gradient.map(abs).max()!)
                let dg = zip(kept.gradient, recomputed.gradient).map { Double(abs($0 - $1)) }.max()! / scale
                XCTAssertLessThan(abs(kept.loss - recomputed.loss) / abs(recomputed.loss), 1e-6,
                                  "sharing \(sharing), budget \(budget)")
                XCTAssertLessThan(dg, 1e-5, "sharing \(sharing), budget \(budget)")
                for (i, l) in recomputed.logps {
                    let d = zip(kept.logps[i]!, l).map { abs($0 - $1) }.max() ?? 0
                    XCTAssertLessThan(d, 1e-5, "log-probabilities of sequence \(i)")
                }
            }
        }
    }
}
