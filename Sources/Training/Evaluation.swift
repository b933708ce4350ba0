import Foundation
import Generation
import ModelFiles
import Tasks
import Tokenizers

/// Runs a dataset through a model and scores every completion: the core of `tinylora eval`, and what training
/// calls for held-out accuracy.
///
/// Each example's `messages` are rendered with the model's chat template and the assistant header
/// (`Tokenizer.encodeChat(addGenerationPrompt: true)`); all prompts go to the `Generator` in one call, which keeps
/// at most `parameters.maxConcurrentSequences` sequences in flight. Example i uses random stream i, so a sampled
/// result does not depend on batching. A completion is correct when `extractAnswer(text)` matches the example's gold
/// answer (`answerMatches`); accuracy is over all completions (items × samples) with a Wilson 95% interval.
public struct Evaluation {
    public let generator: Generator
    public let tokenizer: Tokenizer
    public var parameters: GenerationParameters

    public init(generator: Generator, tokenizer: Tokenizer, parameters: GenerationParameters) {
        self.generator = generator
        self.tokenizer = tokenizer
        self.parameters = parameters
    }

    /// Generation settings for evaluation: stop at the tokenizer's end-of-turn tokens; greedy when temperature is 0.
    public static func parameters(tokenizer: Tokenizer, maxNewTokens: Int, temperature: Float = 0, topP: Float = 1,
                                  samples: Int = 1, concurrency: Int = 32, seed: UInt64 = 0) -> GenerationParameters {
        GenerationParameters(
            maxNewTokens: maxNewTokens, sampling: SamplingParameters(temperature: temperature, topP: topP), seed: seed,
            stopTokenIds: tokenizer.endOfTurnIds, samplesPerPrompt: samples, maxConcurrentSequences: concurrency)
    }

    /// The prompt token ids of `example` (chat template with the generation prompt).
    public func promptTokens(_ example: Example) throws -> [Int] {
        try tokenizer.encodeChat(example.chatMessages, addGenerationPrompt: true)
    }

    /// Generates and scores. `progress` is called after each finished completion.
    public func run(_ dataset: Dataset, progress: ((EvaluationProgress) -> Void)? = nil) throws -> EvaluationReport {
        try Evaluation.checkScorable(dataset)
        try parameters.validate()
        let contextLength = generator.model.contextLength
        let prompts = try dataset.examples.map { example -> [Int] in
            let ids = try promptTokens(example)
            guard ids.count < contextLength else {
                throw TaskError("example \(example.id): its prompt has \(ids.count) tokens, the model's context holds \(contextLength)")
            }
            return ids
        }
        let samples = parameters.samplesPerPrompt
        let total = prompts.count * samples
        var pending: [Int: [Int]] = [:]
        var state = EvaluationProgress(finished: 0, total: total, correct: 0, generatedTokens: 0, seconds: 0)
        let start = ContinuousClock.now
        let decode: ([Int]) -> String = { ids in (try? self.tokenizer.decode(ids)) ?? "" }
        let result = try generator.generate(prompts: prompts, parameters: parameters, decode: decode, onToken: { token in
            state.generatedTokens += 1
            guard let progress else { return }
            pending[token.sequence, default: []].append(token.tokenId)
            guard let reason = token.finishReason else { return }
            var ids = pending.removeValue(forKey: token.sequence) ?? []
            if reason == .stopToken { ids.removeLast() }
            let example = dataset.examples[token.promptIndex]
            if let gold = example.goldAnswer, answerMatches(extractAnswer(decode(ids)), gold: gold) { state.correct += 1 }
            state.finished += 1
            state.seconds = Self.seconds(since: start)
            progress(state)
        })
        var records: [EvaluationRecord] = []
        records.reserveCapacity(total)
        for completion in result.completions {
            let example = dataset.examples[completion.promptIndex]
            let text = completion.text ?? ""
            let extracted = extractAnswer(text)
            records.append(EvaluationRecord(
                exampleID: example.id, sampleIndex: completion.sampleIndex, prompt: example.promptText, completion: text,
                extracted: extracted, gold: example.goldAnswer,
                correct: example.goldAnswer.map { answerMatches(extracted, gold: $0) } ?? false,
                finishReason: completion.finishReason, completionTokens: completion.tokenIds.count))
        }
        return EvaluationReport(dataset: dataset.name, items: prompts.count, samplesPerItem: samples, records: records,
                                statistics: result.statistics, seconds: Self.seconds(since: start))
    }

    /// Throws unless the dataset has examples and every one has a gold answer.
    public static func checkScorable(_ dataset: Dataset) throws {
        guard !dataset.examples.isEmpty else { throw TaskError("dataset \(dataset.name) has no examples to evaluate") }
        let missing = dataset.examples.filter { $0.goldAnswer == nil }
        if let first = missing.first {
            throw TaskError("dataset \(dataset.name): \(missing.count) item(s) have no gold answer to score against, first \(first.id) "
                + "(give an \"answer\" field, or a completion ending in \"#### N\")")
        }
    }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
}

extension Example {
    /// The prompt as the tokenizer's chat messages (for `Tokenizer.encodeChat` / `applyChatTemplate`).
    public var chatMessages: [ChatMessage] {
        messages.map { ChatMessage(role: $0.role, content: $0.content) }
    }
}

/// Where an evaluation is, for progress lines.
public struct EvaluationProgress: Sendable, Equatable {
    public var finished: Int
    public var total: Int
    /// Correct among the finished completions.
    public var correct: Int
    public var generatedTokens: Int
    public var seconds: Double
}

/// One scored completion.
public struct EvaluationRecord: Sendable, Equatable {
    public var exampleID: String
    public var sampleIndex: Int
    /// The last user message (the question with its instruction suffix).
    public var prompt: String
    public var completion: String
    public var extracted: ExtractedAnswer?
    public var gold: String?
    public var correct: Bool
    public var finishReason: FinishReason
    /// Generated tokens, including a final end-of-turn token.
    public var completionTokens: Int

    /// {"id","sample","prompt","completion","extracted","extraction_rule","gold","correct","finish_reason","tokens"};
    /// extracted, extraction_rule and gold are null when absent.
    public var jsonLine: String {
        let fields: [(String, String)] = [
            ("id", JSONText.quoted(exampleID)), ("sample", "\(sampleIndex)"), ("prompt", JSONText.quoted(prompt)),
            ("completion", JSONText.quoted(completion)), ("extracted", extracted.map { JSONText.quoted($0.text) } ?? "null"),
            ("extraction_rule", extracted.map { JSONText.quoted($0.rule.rawValue) } ?? "null"),
            ("gold", gold.map(JSONText.quoted) ?? "null"), ("correct", correct ? "true" : "false"),
            ("finish_reason", JSONText.quoted(finishReason.rawValue)), ("tokens", "\(completionTokens)"),
        ]
        return "{" + fields.map { JSONText.quoted($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
    }
}

/// The scored completions of one evaluation and their summary.
public struct EvaluationReport: Sendable {
    public var dataset: String
    public var items: Int
    public var samplesPerItem: Int
    /// One per (item, sample), in item order.
    public var records: [EvaluationRecord]
    public var statistics: GenerationStatistics
    public var seconds: Double

    public var summary: AccuracySummary {
        AccuracySummary(correct: records.filter(\.correct).count, n: records.count)
    }

    /// Completions cut by the token limit (or the context).
    public var truncated: Int { records.filter(\.finishReason.isTruncation).count }

    /// `{"accuracy":a,"n":n,"ci95":[lo,hi]}`.
    public var accuracyJSON: String {
        let s = summary
        return "{\"accuracy\":\(s.accuracy),\"n\":\(s.n),\"ci95\":[\(s.ci95.lower),\(s.ci95.upper)]}"
    }

    /// The summary object: accuracy, n, ci95, then correct, items, samples_per_item, interval ("wilson"), dataset,
    /// truncated, generated_tokens, seconds, then `extra` (key, already-encoded JSON value) pairs.
    public func summaryJSON(extra: [(String, String)] = []) -> String {
        let s = summary
        var fields: [(String, String)] = [
            ("accuracy", "\(s.accuracy)"), ("n", "\(s.n)"), ("ci95", "[\(s.ci95.lower),\(s.ci95.upper)]"),
            ("correct", "\(s.correct)"), ("items", "\(items)"), ("samples_per_item", "\(samplesPerItem)"),
            ("interval", JSONText.quoted("wilson")), ("dataset", JSONText.quoted(dataset)), ("truncated", "\(truncated)"),
            ("generated_tokens", "\(statistics.generatedTokens)"), ("seconds", "\(seconds)"),
        ]
        fields += extra
        return "{" + fields.map { JSONText.quoted($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
    }

    /// Writes `directory/results.jsonl` (one `EvaluationRecord.jsonLine` per completion) and
    /// `directory/summary.json` atomically, creating the directory if needed.
    public func write(to directory: String, extra: [(String, String)] = []) throws {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw TaskError("cannot create the output directory \(directory): \((error as NSError).localizedDescription)")
        }
        let lines = try AtomicFileWriter(path: (directory as NSString).appendingPathComponent("results.jsonl"))
        for record in records { try lines.write(Array((record.jsonLine + "\n").utf8)) }
        try lines.commit()
        let summaryFile = try AtomicFileWriter(path: (directory as NSString).appendingPathComponent("summary.json"))
        try summaryFile.write(Array((summaryJSON(extra: extra) + "\n").utf8))
        try summaryFile.commit()
    }
}
