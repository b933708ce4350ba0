import ArgumentParser
import Foundation
import Tasks
import Training

struct Grade: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score completions written by another program against a dataset, as eval scores its own.",
        discussion: """
        --completions is a JSONL file with one object per completion: {"id": ID, "completion": TEXT}, optionally \
        "sample" (0-based, default 0), "finish_reason" (stop, stop_string, length or context_full; default stop) and \
        "tokens" (default 0). eval's results.jsonl has these fields. Every item of --data (after --limit) needs \
        completions for the same samples; an id that is not one of those items, a repeated (id, sample) or an item \
        without completions is an error. The answer extraction, matching, Wilson interval, --out files and --json output are eval's, so an \
        engine such as llama.cpp is scored exactly like ours (see scripts/llamacpp_eval.py). --data, --suffix and \
        --system select the items and the prompt text recorded with them, as in eval.
        """)

    @Option(help: "A JSONL dataset file or a built-in name (gsm8k-test, arith[:...]), as for eval.")
    var data: String

    @Option(help: "The completions to score (JSONL, .gz accepted).")
    var completions: String

    @Option(help: "Score only the first N items.")
    var limit: Int?

    @OptionGroup var questionFormat: QuestionFormatOptions

    @OptionGroup var output: EvaluationOutputOptions

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be >= 1") }
    }

    func run() throws {
        let format = questionFormat.format
        let dataset = try Dataset.load(data, prompt: format).prefix(limit)
        try output.prepare()
        let report = try CompletionGrading.grade(dataset, completionsAt: completions)
        try output.emit(report, extra: [("completions", JSON.string(completions))], truncation: "cut by a length limit",
                        timed: false)
    }
}
