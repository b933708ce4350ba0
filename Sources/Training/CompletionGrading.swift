import Foundation
import Generation
import Tasks

/// Scores completions written by another program (llama.cpp, transformers, an earlier run) against a dataset, with
/// the answer extraction and matching `Evaluation` uses, so that every engine's accuracy is computed the same way.
///
/// Input: JSONL, one object per completion: `{"id": ID, "completion": TEXT}` plus optional `"sample"` (0-based,
/// default 0), `"finish_reason"` ("stop", "stop_string", "length" or "context_full"; default "stop") and `"tokens"`
/// (generated tokens; default 0). Our own `results.jsonl` has these fields, so it can be graded again. Every
/// dataset item must have completions for samples 0 ..< S with the same S for all items; an id not in the dataset,
/// a (id, sample) given twice or an item without completions is an error naming the line or the item.
public enum CompletionGrading {
    /// Grades the completions of the JSONL file at `path` (`.gz` accepted).
    public static func grade(_ dataset: Dataset, completionsAt path: String) throws -> EvaluationReport {
        try grade(dataset, completions: try JSONLDataset.readBytes(path, what: "completions file"), source: path)
    }

    /// Grades JSONL bytes; `source` names them in errors.
    public static func grade(_ dataset: Dataset, completions bytes: [UInt8], source: String) throws -> EvaluationReport {
        try Evaluation.checkScorable(dataset)
        let index = Dictionary(dataset.examples.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })
        var found: [Int: [Int: (line: Int, record: EvaluationRecord)]] = [:]
        try JSONLDataset.forEachLine(of: bytes) { lineNumber, line in
            let at = "\(source) line \(lineNumber)"
            let object = try jsonObject(line, at: at)
            guard let idValue = object["id"], let id = JSONLDataset.jsonScalarText(idValue) else {
                throw TaskError("\(at): a completion needs an \"id\" (string or number) naming its dataset item")
            }
            guard let item = index[id] else {
                throw TaskError("\(at): id \"\(id)\" is not an item of dataset \(dataset.name)")
            }
            guard let completion = object["completion"] as? String else {
                throw TaskError("\(at): \"completion\" must be a string")
            }
            let sample = try integerField(object, "sample", default: 0, at: at)
            let tokens = try integerField(object, "tokens", default: 0, at: at)
            let finish: FinishReason
            switch object["finish_reason"] {
            case nil, is NSNull: finish = .stopToken
            case let text as String:
                guard let reason = FinishReason(rawValue: text) else {
                    throw TaskError("\(at): \"finish_reason\" \"\(text)\" is not one of stop, stop_string, length, context_full")
                }
                finish = reason
            default: throw TaskError("\(at): \"finish_reason\" must be a string")
            }
            if let previous = found[item]?[sample] {
                throw TaskError("\(at): id \"\(id)\" sample \(sample) is already given on line \(previous.line)")
            }
            let example = dataset.examples[item]
            let extracted = extractAnswer(completion)
            let record = EvaluationRecord(
                exampleID: example.id, sampleIndex: sample, prompt: example.promptText, completion: completion,
                extracted: extracted, gold: example.goldAnswer,
                correct: example.goldAnswer.map { answerMatches(extracted, gold: $0) } ?? false,
                finishReason: finish, completionTokens: tokens)
            found[item, default: [:]][sample] = (lineNumber, record)
        }
        guard let first = found[0] else {
            throw TaskError("\(source): no completions for item \"\(dataset.examples[0].id)\" of dataset \(dataset.name)")
        }
        let samples = first.count
        var records: [EvaluationRecord] = []
        var statistics = GenerationStatistics()
        for (item, example) in dataset.examples.enumerated() {
            let given = found[item] ?? [:]
            guard given.count == samples, (0 ..< samples).allSatisfy({ given[$0] != nil }) else {
                throw TaskError("\(source): item \"\(example.id)\" has completions for samples "
                    + "\(given.keys.sorted()) where samples 0 ..< \(samples) are expected (as for the first item)")
            }
            for s in 0 ..< samples {
                records.append(given[s]!.record)
                statistics.generatedTokens += given[s]!.record.completionTokens
            }
        }
        return EvaluationReport(dataset: dataset.name, items: dataset.examples.count, samplesPerItem: samples,
                                records: records, statistics: statistics, seconds: 0)
    }

    static func jsonObject(_ line: ArraySlice<UInt8>, at: String) throws -> [String: Any] {
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(line), options: [])
        } catch {
            throw TaskError("\(at): not valid JSON")
        }
        guard let object = json as? [String: Any] else { throw TaskError("\(at): a completion must be a JSON object") }
        return object
    }

    static func integerField(_ object: [String: Any], _ key: String, default value: Int, at: String) throws -> Int {
        guard let raw = object[key], !(raw is NSNull) else { return value }
        guard let text = JSONLDataset.jsonScalarText(raw), let n = Int(text), n >= 0, !(raw is String) else {
            throw TaskError("\(at): \"\(key)\" must be a whole number >= 0")
        }
        return n
    }
}
