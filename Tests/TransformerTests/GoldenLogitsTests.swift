import Foundation
import ModelFiles
import Numerics
import Transformer
import XCTest

/// The engine against transformers' fp32 forward pass on the two real GGUF models (fixture written by
/// Fixtures/make_logits_fixture.py): every recorded top-20 logit and the logsumexp within 0.05, the same argmax
/// at every checked position, and the same greedy continuation. Needs the models in $TINYLORA_HOME/models.
final class GoldenLogitsTests: XCTestCase {
    struct Fixture: Decodable {
        struct Check: Decodable {
            let position: Int
            let top: [[Double]]
            let logsumexp: Double
        }
        struct Prompt: Decodable {
            let text: String
            let ids: [Int]
            let checks: [Check]
            let greedy: [Int]
        }
        struct Model: Decodable {
            let file: String
            let stopIds: [Int]
            let prompts: [Prompt]
        }
        let topK: Int
        let maxNewTokens: Int
        let models: [Model]
    }

    static let tolerance: Float = 0.05

    func fixture() throws -> Fixture {
        let dir = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: dir.appendingPathComponent("logits_fixture.json")))
    }

    static func modelPath(_ file: String) throws -> String {
        let env = ProcessInfo.processInfo.environment
        let home = env["TINYLORA_HOME"] ?? (NSHomeDirectory() + "/.cache/tinylora")
        let path = home + "/models/" + file
        guard FileManager.default.fileExists(atPath: path) else {
            throw TransformerError("model file \(path) is missing: fetch it first (tinylora fetch), or set TINYLORA_HOME")
        }
        return path
    }

    func testSmolLM2MatchesTransformers() throws {
        try check(modelFile: "SmolLM2-135M-Instruct.Q4_1.gguf")
    }

    func testQwen25CoderMatchesTransformers() throws {
        try check(modelFile: "Qwen2.5-Coder-0.5B-Instruct.gguf")
    }

    func check(modelFile: String) throws {
        let fixture = try fixture()
        let entry = try XCTUnwrap(fixture.models.first { $0.file == modelFile }, "fixture has no \(modelFile)")
        let model = try TransformerModel.load(ggufPath: try Self.modelPath(modelFile))
        XCTAssertGreaterThanOrEqual(entry.prompts.count, 3)

        // All prompts in one batch, every position's logits.
        let cache = model.makeCache(slots: entry.prompts.count, capacity: entry.prompts.map(\.ids.count).max()!)
        let logits = try model.forward(tokens: entry.prompts.map(\.ids), slots: Array(entry.prompts.indices),
                                       cache: cache, allPositions: true)
        var firstRow = 0
        var worstOverall: Float = 0, worstLSE: Float = 0
        for (p, prompt) in entry.prompts.enumerated() {
            for check in prompt.checks {
                let row = Array(logits[firstRow + check.position])
                let label = "\(modelFile) prompt \(p) position \(check.position)"
                var worst: Float = 0
                for pair in check.top {
                    worst = max(worst, abs(row[Int(pair[0])] - Float(pair[1])))
                }
                worstOverall = max(worstOverall, worst)
                XCTAssertLessThanOrEqual(worst, Self.tolerance, "\(label): top-\(check.top.count) logit difference")
                XCTAssertEqual(Kernels.argmax(row, count: row.count), Int(check.top[0][0]), "\(label): argmax")
                let lse = Kernels.logSumExp(row, count: row.count)
                worstLSE = max(worstLSE, abs(lse - Float(check.logsumexp)))
                XCTAssertEqual(lse, Float(check.logsumexp), accuracy: Self.tolerance, "\(label): logsumexp")
            }
            firstRow += prompt.ids.count
        }
        print("\(modelFile): largest top-\(fixture.topK) logit difference \(worstOverall), logsumexp \(worstLSE)")

        // Greedy continuation with the KV cache, one prompt at a time.
        for (p, prompt) in entry.prompts.enumerated() {
            let cache = model.makeCache(slots: 1, capacity: prompt.ids.count + fixture.maxNewTokens)
            var next = prompt.ids
            var continuation: [Int] = []
            while continuation.count < fixture.maxNewTokens {
                let l = try model.forward(tokens: [next], slots: [0], cache: cache, allPositions: false)
                let token = Kernels.argmax(Array(l[0]), count: l.vocabularySize)
                continuation.append(token)
                if entry.stopIds.contains(token) { break }
                next = [token]
            }
            XCTAssertEqual(continuation, prompt.greedy, "\(modelFile) prompt \(p): greedy continuation")
        }
    }
}
