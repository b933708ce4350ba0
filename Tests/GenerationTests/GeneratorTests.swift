import Generation
import Numerics
import Transformer
import XCTest

final class GeneratorTests: XCTestCase {
    // The bigram chain from token 1 (next = 3t + 1 mod 32): 4, 13, 8, 25, 12, 5, 16, 17, 20, 29, ...
    // As letters (t mod 26): e, n, i, z, m, f, q, r, u, d, ...

    func testGreedyFollowsTheBigramChain() throws {
        let model = HistoryModel.bigram()
        let result = try Generator(model: model).generate(
            prompts: [[1]], parameters: GenerationParameters(maxNewTokens: 6), decode: letterDecoder())
        XCTAssertEqual(result.completions, [
            Completion(promptIndex: 0, sampleIndex: 0, tokenIds: [4, 13, 8, 25, 12, 5], finishReason: .maxTokens,
                       text: "enizmf"),
        ])
        XCTAssertNil(try Generator(model: model).generate(prompts: [[1]], parameters: GenerationParameters(maxNewTokens: 2))
            .completions[0].text)
    }

    func testStopTokenEndsTheSequenceAndIsKeptInIdsButNotInText() throws {
        let result = try Generator(model: HistoryModel.bigram()).generate(
            prompts: [[1]], parameters: GenerationParameters(maxNewTokens: 10, stopTokenIds: [25, 31]),
            decode: letterDecoder())
        XCTAssertEqual(result.completions[0].tokenIds, [4, 13, 8, 25])
        XCTAssertEqual(result.completions[0].finishReason, .stopToken)
        XCTAssertEqual(result.completions[0].text, "eni")
    }

    func testStopStringsAcrossAndInsideTokens() throws {
        let generator = Generator(model: HistoryModel.bigram())
        // "iz" is spelled by tokens 8 ("i") and 25 ("z").
        var completion = try generator.generate(
            prompts: [[1]], parameters: GenerationParameters(maxNewTokens: 10, stopStrings: ["zzz", "iz"]),
            decode: letterDecoder()).completions[0]
        XCTAssertEqual(completion.tokenIds, [4, 13, 8, 25])
        XCTAssertEqual(completion.finishReason, .stopString)
        XCTAssertEqual(completion.text, "en")
        // A stop string in the middle of one token's text.
        completion = try generator.generate(
            prompts: [[1]], parameters: GenerationParameters(maxNewTokens: 10, stopStrings: ["Y"]),
            decode: letterDecoder(overrides: [13: "XYZ"])).completions[0]
        XCTAssertEqual(completion.tokenIds, [4, 13])
        XCTAssertEqual(completion.text, "eX")
        // "\n" is found inside "\r\n" (one Character in Swift), and the earliest of several stop strings wins.
        completion = try generator.generate(
            prompts: [[1]], parameters: GenerationParameters(maxNewTokens: 10, stopStrings: ["i", "\n"]),
            decode: letterDecoder(overrides: [13: "\r\n"])).completions[0]
        XCTAssertEqual(completion.tokenIds, [4, 13])
        XCTAssertEqual(completion.text, "e\r")
        // A stop string that never appears changes nothing.
        completion = try generator.generate(
            prompts: [[1]], parameters: GenerationParameters(maxNewTokens: 5, stopStrings: ["ie"]),
            decode: letterDecoder()).completions[0]
        XCTAssertEqual(completion.tokenIds, [4, 13, 8, 25, 12])
        XCTAssertEqual(completion.finishReason, .maxTokens)
        XCTAssertEqual(completion.text, "enizm")
    }

    func testContextFullStopsBeforeTheCacheOverflows() throws {
        let model = HistoryModel.bigram(contextLength: 10)
        let generator = Generator(model: model)
        var completion = try generator.generate(
            prompts: [[1, 4, 13, 8, 25, 12, 5]], parameters: GenerationParameters(maxNewTokens: 10)).completions[0]
        XCTAssertEqual(completion.tokenIds, [16, 17, 20])
        XCTAssertEqual(completion.finishReason, .contextFull)
        completion = try generator.generate(
            prompts: [[1, 4, 13, 8, 25, 12, 5, 16, 17]], parameters: GenerationParameters(maxNewTokens: 10)).completions[0]
        XCTAssertEqual(completion.tokenIds, [20])
        XCTAssertEqual(completion.finishReason, .contextFull)
        // Both limits at once: max tokens is reported.
        completion = try generator.generate(
            prompts: [[1, 4, 13, 8, 25, 12, 5]], parameters: GenerationParameters(maxNewTokens: 3)).completions[0]
        XCTAssertEqual(completion.finishReason, .maxTokens)
    }

    func testFinishedSequencesLeaveTheBatch() throws {
        let model = HistoryModel.bigram()
        let result = try Generator(model: model).generate(
            prompts: [[1], [13]], parameters: GenerationParameters(maxNewTokens: 6, stopTokenIds: [25]))
        XCTAssertEqual(result.completions.map(\.tokenIds), [[4, 13, 8, 25], [8, 25]])
        XCTAssertEqual(model.calls.map(\.tokens), [[[1], [13]], [[4], [8]], [[13]], [[8]]])
        XCTAssertEqual(result.statistics.prefillForwards, 1)
        XCTAssertEqual(result.statistics.decodeForwards, 3)
        XCTAssertEqual(result.statistics.generatedTokens, 6)
        XCTAssertEqual(result.statistics.largestDecodeBatch, 2)
    }

    private let mixedPrompts: [[Int]] = [[3], [10, 20, 30, 40, 41], [7, 7, 7], [1, 2, 3, 4, 5, 6, 7, 8, 9], [44, 0]]

    /// Each prompt run alone (with its stream id) gives exactly what it gives in a batch of mixed lengths, also with
    /// few cache slots (prompts wait for free slots) and chunked prefill.
    func testBatchingDoesNotChangeResults() throws {
        for sampling in [SamplingParameters.greedy, SamplingParameters(temperature: 0.8, topK: 20, topP: 0.95),
                         SamplingParameters(temperature: 1.2, minP: 0.05, repetitionPenalty: 1.3)] {
            let parameters = GenerationParameters(maxNewTokens: 12, sampling: sampling, seed: 42, stopTokenIds: [7, 11])
            let model = HistoryModel.hashed()
            let batched = try Generator(model: model).generate(prompts: mixedPrompts, parameters: parameters)
            XCTAssertEqual(batched.statistics.largestDecodeBatch, 5)
            XCTAssertEqual(batched.statistics.prefillForwards, 1)
            // The stop tokens make lengths differ, so sequences really leave the batch at different steps.
            XCTAssertGreaterThan(Set(batched.completions.map(\.tokenIds.count)).count, 1, "\(sampling)")
            for (index, prompt) in mixedPrompts.enumerated() {
                let alone = try Generator(model: HistoryModel.hashed()).generate(
                    prompts: [prompt], parameters: parameters, streams: [UInt64(index)])
                var expected = alone.completions[0]
                expected.promptIndex = index
                XCTAssertEqual(batched.completions[index], expected, "prompt \(index), \(sampling)")
            }
            var constrained = parameters
            constrained.maxConcurrentSequences = 2
            constrained.prefillTokenBudget = 4
            let narrow = try Generator(model: HistoryModel.hashed()).generate(prompts: mixedPrompts, parameters: constrained)
            XCTAssertEqual(narrow.completions, batched.completions, "\(sampling)")
            XCTAssertLessThanOrEqual(narrow.statistics.largestDecodeBatch, 2)
            XCTAssertGreaterThan(narrow.statistics.prefillForwards, 3)
        }
    }

    func testSeedsReproduceAndDifferentSeedsDiffer() throws {
        func run(seed: UInt64) throws -> [[Int]] {
            try Generator(model: HistoryModel.hashed()).generate(
                prompts: mixedPrompts,
                parameters: GenerationParameters(maxNewTokens: 10, sampling: SamplingParameters(), seed: seed))
                .completions.map(\.tokenIds)
        }
        let first = try run(seed: 1)
        XCTAssertEqual(try run(seed: 1), first)
        let second = try run(seed: 2)
        XCTAssertNotEqual(second, first)
        // Different for every prompt, not only some.
        for (a, b) in zip(first, second) { XCTAssertNotEqual(a, b) }
    }

    func testSamplesPerPromptPrefillOnceAndDrawDistinctStreams() throws {
        let prompts: [[Int]] = [[5, 6, 7, 8], [9, 10]]
        let model = HistoryModel.hashed()
        let parameters = GenerationParameters(maxNewTokens: 8, sampling: SamplingParameters(), seed: 3,
                                              samplesPerPrompt: 4)
        let result = try Generator(model: model).generate(prompts: prompts, parameters: parameters)
        XCTAssertEqual(result.completions.count, 8)
        XCTAssertEqual(result.completions.map(\.promptIndex), [0, 0, 0, 0, 1, 1, 1, 1])
        XCTAssertEqual(result.completions.map(\.sampleIndex), [0, 1, 2, 3, 0, 1, 2, 3])
        for p in 0 ..< 2 {
            XCTAssertEqual(Set(result.completions[p * 4 ..< p * 4 + 4].map(\.tokenIds)).count, 4, "prompt \(p)")
        }
        // Prompts are sent once; afterwards each sequence sends each of its tokens but the last.
        XCTAssertEqual(model.calls[0].tokens, prompts)
        XCTAssertEqual(result.statistics.prefillForwards, 1)
        XCTAssertEqual(result.statistics.promptTokens, 6)
        let fedBack = result.completions.reduce(0) { $0 + $1.tokenIds.count - 1 }
        XCTAssertEqual(model.tokensSent, 6 + fedBack)
        // A sample's stream does not depend on how many samples are drawn.
        var two = parameters
        two.samplesPerPrompt = 2
        let fewer = try Generator(model: HistoryModel.hashed()).generate(prompts: prompts, parameters: two)
        XCTAssertEqual(fewer.completions.map(\.tokenIds),
                       [0, 1, 4, 5].map { result.completions[$0].tokenIds })
        // Nor on the number of cache slots.
        var narrow = parameters
        narrow.maxConcurrentSequences = 1
        let serial = try Generator(model: HistoryModel.hashed()).generate(prompts: prompts, parameters: narrow)
        XCTAssertEqual(serial.completions, result.completions)
        XCTAssertEqual(serial.statistics.largestDecodeBatch, 4)
    }

    /// Every sequence equals a direct step-by-step computation: logits of (prompt + completion so far) from the fake,
    /// sampled with the documented stream Xoshiro256StarStar(seed: streamSeed(streamSeed(seed, p), s)).
    func testEverySequenceMatchesTheDocumentedStepByStepComputation() throws {
        let model = HistoryModel.hashed()
        let prompts: [[Int]] = [[5, 6, 7, 8], [9, 10], [1, 2, 3, 4, 5, 6]]
        let sampling = SamplingParameters(temperature: 0.9, topP: 0.9, repetitionPenalty: 1.2)
        let parameters = GenerationParameters(maxNewTokens: 9, sampling: sampling, seed: 77, stopTokenIds: [11],
                                              samplesPerPrompt: 3, maxConcurrentSequences: 4, prefillTokenBudget: 5)
        let result = try Generator(model: model).generate(prompts: prompts, parameters: parameters)
        var sampler = try Sampler(sampling)
        for completion in result.completions {
            let prompt = prompts[completion.promptIndex]
            var random = Xoshiro256StarStar(
                seed: Xoshiro256StarStar.streamSeed(77, UInt64(completion.promptIndex)), stream: UInt64(completion.sampleIndex))
            var tokens: [Int] = []
            while tokens.count < 9 {
                let history = prompt + tokens
                let token = try sampler.sample(logits: model.logitsFor(history)[...], previousTokens: Set(history),
                                               random: &random)
                tokens.append(token)
                if token == 11 { break }
            }
            XCTAssertEqual(completion.tokenIds, tokens, "prompt \(completion.promptIndex) sample \(completion.sampleIndex)")
            XCTAssertEqual(completion.finishReason, tokens.last == 11 ? .stopToken : .maxTokens)
        }
    }

    /// One generator reuses its cache across calls (growing it when needed); results equal fresh generators'.
    func testReusedGeneratorGivesTheSameResults() throws {
        let parameters = GenerationParameters(maxNewTokens: 7, sampling: SamplingParameters(), seed: 5,
                                              stopTokenIds: [7], samplesPerPrompt: 2)
        let small: [[Int]] = [[4, 4]]
        let model = HistoryModel.hashed()
        let generator = Generator(model: model)
        let first = try generator.generate(prompts: small, parameters: parameters).completions
        let second = try generator.generate(prompts: mixedPrompts, parameters: parameters).completions
        let third = try generator.generate(prompts: small, parameters: parameters).completions
        XCTAssertEqual(first, third)
        XCTAssertEqual(second, try Generator(model: HistoryModel.hashed()).generate(prompts: mixedPrompts,
                                                                                   parameters: parameters).completions)
        generator.releaseCache()
        XCTAssertEqual(try generator.generate(prompts: small, parameters: parameters).completions, first)
    }

    func testStreamingReportsEveryTokenInOrder() throws {
        var events: [GeneratedToken] = []
        let result = try Generator(model: HistoryModel.hashed()).generate(
            prompts: mixedPrompts,
            parameters: GenerationParameters(maxNewTokens: 6, sampling: SamplingParameters(), seed: 9,
                                             stopTokenIds: [7, 11], samplesPerPrompt: 2),
            onToken: { events.append($0) })
        for (index, completion) in result.completions.enumerated() {
            let mine = events.filter { $0.sequence == index }
            XCTAssertEqual(mine.map(\.tokenId), completion.tokenIds)
            XCTAssertTrue(mine.allSatisfy { $0.promptIndex == completion.promptIndex && $0.sampleIndex == completion.sampleIndex })
            XCTAssertEqual(mine.map(\.finishReason), Array(repeating: nil, count: mine.count - 1) + [completion.finishReason])
        }
        XCTAssertEqual(events.count, result.statistics.generatedTokens)
    }

    func testBadInputIsRejectedWithClearErrors() throws {
        let model = HistoryModel.bigram(contextLength: 10)
        let generator = Generator(model: model)
        let ok = GenerationParameters(maxNewTokens: 4)
        func expectError(_ prompts: [[Int]], _ parameters: GenerationParameters, streams: [UInt64]? = nil,
                         decode: (([Int]) -> String)? = nil, mentions word: String, line: UInt = #line) {
            XCTAssertThrowsError(try generator.generate(prompts: prompts, parameters: parameters, streams: streams,
                                                        decode: decode), line: line) { error in
                XCTAssertTrue("\(error)".contains(word), "\(error) should mention \(word)", line: line)
            }
        }
        expectError([[1], []], ok, mentions: "prompt 1 is empty")
        expectError([Array(repeating: 1, count: 10)], ok, mentions: "prompt 0 has 10 tokens")
        expectError([[1, 32]], ok, mentions: "token id 32")
        expectError([[-1]], ok, mentions: "token id -1")
        expectError([[1]], GenerationParameters(maxNewTokens: 0), mentions: "max new tokens")
        expectError([[1]], GenerationParameters(maxNewTokens: -3), mentions: "max new tokens")
        expectError([[1]], GenerationParameters(maxNewTokens: 2, samplesPerPrompt: 0), mentions: "samples per prompt")
        expectError([[1]], GenerationParameters(maxNewTokens: 2, sampling: SamplingParameters(temperature: -1)),
                    mentions: "temperature")
        expectError([[1]], GenerationParameters(maxNewTokens: 2, sampling: SamplingParameters(topP: 2)), mentions: "top-p")
        expectError([[1]], GenerationParameters(maxNewTokens: 2, stopStrings: ["a", ""]), decode: letterDecoder(),
                    mentions: "stop string 1 is empty")
        expectError([[1]], GenerationParameters(maxNewTokens: 2, stopStrings: ["a"]), mentions: "decoder")
        expectError([[1], [2]], ok, streams: [0], mentions: "stream")
        XCTAssertTrue(model.calls.isEmpty, "nothing may run when the input is bad")
        // No prompts: nothing to do.
        XCTAssertEqual(try generator.generate(prompts: [], parameters: ok).completions, [])
        // A cache beyond the machine's memory is refused before allocating (the fake uses 4 bytes per position).
        let wide = HistoryModel.bigram(vocabularySize: 32, contextLength: 1 << 40)
        XCTAssertThrowsError(try Generator(model: wide).generate(
            prompts: [[1]], parameters: GenerationParameters(maxNewTokens: 1 << 39))) { error in
            XCTAssertTrue("\(error)".contains("KV cache"), "\(error)")
        }
        // A huge max-tokens value does not allocate a huge cache: the context bounds it.
        let long = try generator.generate(prompts: [[1]], parameters: GenerationParameters(maxNewTokens: .max))
        XCTAssertEqual(long.completions[0].finishReason, .contextFull)
        XCTAssertEqual(long.completions[0].tokenIds.count, 9)
    }

    func testStopStringHelpers() throws {
        let stops = try StopStrings(["</answer>", "\n\n"])
        XCTAssertEqual(stops.truncate("x = 1</answer> tail"), "x = 1")
        XCTAssertEqual(stops.truncate("no stop"), "no stop")
        XCTAssertEqual(stops.firstMatch(in: "a\n\nb</answer>")?.stopString, "\n\n")
        XCTAssertEqual(stops.firstMatch(in: "a\n\nb</answer>")?.utf8Offset, 1)
        // Streaming: hold back a tail that may grow into a stop string, and never split a UTF-8 sequence.
        XCTAssertEqual(stops.safePrefixLength(of: "abc</ans"), 3)
        XCTAssertEqual(stops.safePrefixLength(of: "abc\n"), 3)
        XCTAssertEqual(stops.safePrefixLength(of: "abc"), 3)
        XCTAssertEqual(stops.safePrefixLength(of: "ab</answer>cd"), 2)
        XCTAssertEqual(try StopStrings(["é!"]).safePrefixLength(of: "aé"), 1)
        XCTAssertThrowsError(try StopStrings([""]))
    }
}
