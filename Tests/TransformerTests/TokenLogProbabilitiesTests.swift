import Foundation
import Transformer
import XCTest

/// `tokenLogProbabilities` against log-softmax of the logits of the plain forward pass (each sequence alone).
final class TokenLogProbabilitiesTests: XCTestCase {
    static let sequences: [[Int]] = [[5, 9, 13, 2, 40, 41, 7, 7, 0, 33, 12], [3, 1], [60, 2, 2, 8, 19, 54, 21, 30, 1],
                                     [4, 44, 17]]

    /// `log softmax(z/T)[next token]` for every position of `seq`, from `forward(allPositions:)`, in Double.
    static func reference(_ model: TransformerModel, _ seq: [Int], temperature: Double) throws -> [Double] {
        let logits = try model.forward(tokens: [seq], slots: [0], cache: model.makeCache(slots: 1, capacity: 16),
                                       allPositions: true)
        return (0 ..< seq.count - 1).map { t in
            let row = logits[t].map { Double($0) / temperature }
            let m = row.max()!
            return row[seq[t + 1]] - (m + log(row.reduce(0) { $0 + exp($1 - m) }))
        }
    }

    func testMatchesForwardLogSoftmax() throws {
        let c = Synthetic.config(architecture: .qwen2, bias: true)
        let model = try TransformerModel(config: c, weights: Synthetic.weights(c))
        for temperature in [1.0, 0.7] {
            // One batch, and groups of at most 12 tokens (several forward calls); chunk sizes 1 and 32.
            for (maxTokens, chunk) in [(2048, 32), (12, 1)] {
                let all = try model.tokenLogProbabilities(tokens: TokenLogProbabilitiesTests.sequences,
                                                          temperature: Float(temperature), vocabularyChunk: chunk,
                                                          maxBatchTokens: maxTokens)
                for (i, seq) in TokenLogProbabilitiesTests.sequences.enumerated() {
                    let expected = try TokenLogProbabilitiesTests.reference(model, seq, temperature: temperature)
                    XCTAssertEqual(all[i].count, seq.count - 1)
                    for t in expected.indices {
                        XCTAssertEqual(Double(all[i][t]), expected[t], accuracy: 2e-5, "T \(temperature) seq \(i) t \(t)")
                    }
                }
            }
            // Only the completion: tokens from completionStart on.
            let starts = [4, 1, 9, 2]
            let part = try model.tokenLogProbabilities(tokens: TokenLogProbabilitiesTests.sequences,
                                                       completionStart: starts, temperature: Float(temperature))
            for (i, seq) in TokenLogProbabilitiesTests.sequences.enumerated() {
                let expected = try TokenLogProbabilitiesTests.reference(model, seq, temperature: temperature)
                XCTAssertEqual(part[i].count, seq.count - starts[i])
                for (k, t) in (starts[i] ..< seq.count).enumerated() {
                    XCTAssertEqual(Double(part[i][k]), expected[t - 1], accuracy: 2e-5)
                }
            }
        }
    }

    /// Sequences that share a prompt (same completion start, same tokens before it) run the prompt once and each
    /// completion after it; the log-probabilities stay those of each sequence alone, and equal the shared-prompt
    /// backward's (the scored log-probabilities it hands to its weights closure) to rounding.
    func testSharedPromptsGiveEachSequencesOwnLogProbabilities() throws {
        let c = Synthetic.config(heads: 4, kvHeads: 2)
        let model = try TransformerModel(config: c, weights: Synthetic.weights(c))
        let prompt = [7, 3, 3, 50, 21], other = [9, 9, 1]
        let sequences = [prompt + [4, 8, 15, 16], prompt + [23, 42], other + [5, 6, 7, 8, 9, 10, 11, 12],
                         prompt + [1], other + [2, 2], prompt + [30, 31, 32]]
        let starts = [6, 6, 4, 6, 4, 5]  // the last has another start: a group of its own
        let logps = try model.tokenLogProbabilities(tokens: sequences, completionStart: starts, temperature: 0.8)
        var fromBackward = [[Float]](repeating: [], count: sequences.count)
        _ = try model.backward(tokens: sequences, completionStart: starts, temperature: 0.8) { i, lp in
            fromBackward[i] = lp
            return [Float](repeating: 0, count: lp.count)
        }
        for (i, seq) in sequences.enumerated() {
            let expected = try TokenLogProbabilitiesTests.reference(model, seq, temperature: 0.8)
            XCTAssertEqual(logps[i].count, seq.count - starts[i])
            XCTAssertEqual(fromBackward[i].count, seq.count - starts[i])
            for (k, t) in (starts[i] ..< seq.count).enumerated() {
                XCTAssertEqual(Double(logps[i][k]), expected[t - 1], accuracy: 2e-5, "sequence \(i) token \(t)")
                XCTAssertEqual(logps[i][k], fromBackward[i][k], accuracy: 1e-5, "sequence \(i) token \(t)")
            }
        }
    }

    func testBadInputIsRefused() throws {
        let c = Synthetic.config()
        let model = try TransformerModel(config: c, weights: Synthetic.weights(c))
        XCTAssertThrowsError(try model.tokenLogProbabilities(tokens: [[1, 2], []])) {
            XCTAssertTrue("\($0)".contains("no tokens"))
        }
        XCTAssertThrowsError(try model.tokenLogProbabilities(tokens: [[1, 2]], temperature: 0)) {
            XCTAssertTrue("\($0)".contains("temperature"))
        }
        XCTAssertThrowsError(try model.tokenLogProbabilities(tokens: [[1, 2]], completionStart: [0])) {
            XCTAssertTrue("\($0)".contains("completion start"))
        }
        XCTAssertThrowsError(try model.tokenLogProbabilities(tokens: [[1, 99]])) {
            XCTAssertTrue("\($0)".contains("outside the vocabulary"))
        }
        XCTAssertEqual(try model.tokenLogProbabilities(tokens: []), [])
    }
}
