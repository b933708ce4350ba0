import Foundation
import Generation
import Transformer
import XCTest

/// Generation on the real SmolLM2-135M-Instruct GGUF against transformers' greedy generations
/// (Fixtures/make_smollm2_generation.py). Run optimized: `swift test -c release --filter RealModelGenerationTests`.
final class RealModelGenerationTests: XCTestCase {
    private struct Fixture {
        let stopIds: Set<Int>
        let prompts: [[Int]]
        let greedy: [[Int]]
        let texts: [String]
        let pieces: [Int: String]
    }

    private func loadFixture() throws -> Fixture {
        let json = try loadFixtureJSON("smollm2_generation.json")
        let prompts = try XCTUnwrap(json["prompts"] as? [[String: Any]])
        let pieces = try XCTUnwrap(json["pieces"] as? [String: String])
        return Fixture(
            stopIds: Set(try XCTUnwrap(json["stopIds"] as? [Int])),
            prompts: try prompts.map { try XCTUnwrap($0["ids"] as? [Int]) },
            greedy: try prompts.map { try XCTUnwrap($0["greedy"] as? [Int]) },
            texts: try prompts.map { try XCTUnwrap($0["text"] as? String) },
            pieces: Dictionary(uniqueKeysWithValues: try pieces.map { (try XCTUnwrap(Int($0.key)), $0.value) }))
    }

    private static var cachedModel: TransformerModel?

    private func loadModel() throws -> TransformerModel {
        if let model = RealModelGenerationTests.cachedModel { return model }
        let home = ProcessInfo.processInfo.environment["TINYLORA_HOME"]
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/tinylora").path
        let path = home + "/models/SmolLM2-135M-Instruct.Q4_1.gguf"
        guard FileManager.default.fileExists(atPath: path) else {
            throw FakeModelError(description:
                "missing model file \(path): run `tinylora fetch smollm2-135m` first (or set TINYLORA_HOME)")
        }
        let model = try TransformerModel.load(ggufPath: path)
        RealModelGenerationTests.cachedModel = model
        return model
    }

    func testBatchedGreedyMatchesTransformersAndStopsWork() throws {
        let fixture = try loadFixture()
        let model = try loadModel()
        let decode: ([Int]) -> String = { ids in ids.map { fixture.pieces[$0] ?? "<\($0)>" }.joined() }
        let generator = Generator(model: model)
        // All three prompts (5, 9 and 36 tokens) in one batch.
        let result = try generator.generate(
            prompts: fixture.prompts,
            parameters: GenerationParameters(maxNewTokens: 20, stopTokenIds: fixture.stopIds), decode: decode)
        XCTAssertEqual(result.statistics.prefillForwards, 1)
        XCTAssertEqual(result.statistics.largestDecodeBatch, 3)
        for (index, completion) in result.completions.enumerated() {
            XCTAssertEqual(completion.tokenIds, fixture.greedy[index], "prompt \(index)")
            XCTAssertEqual(completion.text, fixture.texts[index], "prompt \(index)")
            XCTAssertEqual(completion.finishReason, fixture.stopIds.contains(fixture.greedy[index].last!) ? .stopToken : .maxTokens)
        }
        // One sequence at a time, prompts prefilled in chunks of at most 7 tokens: the same continuations.
        let serial = try generator.generate(
            prompts: fixture.prompts,
            parameters: GenerationParameters(maxNewTokens: 8, stopTokenIds: fixture.stopIds, maxConcurrentSequences: 1,
                                             prefillTokenBudget: 7))
        XCTAssertEqual(serial.completions.map(\.tokenIds), fixture.greedy.map { Array($0.prefix(8)) })
        XCTAssertEqual(serial.statistics.largestDecodeBatch, 1)
        XCTAssertEqual(serial.statistics.prefillForwards, 1 + 2 + 6)
        // Stop string "\n\n" (spelled by two "\n" tokens) and an extra stop token, in one batch.
        let stopToken = fixture.greedy[2][6]
        let stopped = try generator.generate(
            prompts: fixture.prompts,
            parameters: GenerationParameters(maxNewTokens: 20, stopTokenIds: fixture.stopIds.union([stopToken]),
                                             stopStrings: ["\n\n"]),
            decode: decode).completions
        XCTAssertEqual(stopped[0].tokenIds, Array(fixture.greedy[0].prefix(4)))
        XCTAssertEqual(stopped[0].finishReason, .stopString)
        XCTAssertEqual(stopped[0].text, " Paris.")
        XCTAssertEqual(stopped[1].tokenIds, Array(fixture.greedy[1].prefix(5)))
        XCTAssertEqual(stopped[1].text, " a + b")
        XCTAssertEqual(stopped[2].tokenIds, Array(fixture.greedy[2].prefix(7)))
        XCTAssertEqual(stopped[2].finishReason, .stopToken)
        XCTAssertEqual(stopped[2].text, decode(Array(fixture.greedy[2].prefix(6))))
    }

    /// Sampled rollouts as RL uses them: G samples per prompt from one prefill, reproducible by seed, and the same
    /// when each prompt runs alone.
    func testSampledRolloutsAreReproducibleAndBatchIndependent() throws {
        let fixture = try loadFixture()
        let model = try loadModel()
        let parameters = GenerationParameters(
            maxNewTokens: 8, sampling: SamplingParameters(temperature: 0.9, topP: 0.95), seed: 2024,
            stopTokenIds: fixture.stopIds, samplesPerPrompt: 3)
        let generator = Generator(model: model)
        let batched = try generator.generate(prompts: fixture.prompts, parameters: parameters)
        XCTAssertEqual(batched.statistics.prefillForwards, 1)
        XCTAssertEqual(batched.statistics.promptTokens, fixture.prompts.reduce(0) { $0 + $1.count })
        for p in fixture.prompts.indices {
            let group = batched.completions[p * 3 ..< p * 3 + 3].map(\.tokenIds)
            XCTAssertEqual(Set(group).count, 3, "prompt \(p): the three samples should differ")
            let alone = try generator.generate(prompts: [fixture.prompts[p]], parameters: parameters,
                                               streams: [UInt64(p)])
            XCTAssertEqual(alone.completions.map(\.tokenIds), group, "prompt \(p) alone vs in the batch")
        }
        let again = try generator.generate(prompts: fixture.prompts, parameters: parameters)
        XCTAssertEqual(again.completions, batched.completions)
    }
}
