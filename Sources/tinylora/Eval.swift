import ArgumentParser
import Foundation
import Generation
import Tasks
import Training

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score a model (optionally with an adapter) on a dataset of problems with answers.",
        discussion: """
        --data takes a JSONL file (.jsonl or .jsonl.gz; records {"question","answer"} in GSM8K style, \
        {"prompt","completion"} with an optional "answer", or {"messages":[...]}), or a built-in name: gsm8k-test \
        (the 1319 GSM8K test problems, fetched into $TINYLORA_HOME/data on first use) or \
        arith[:n=N,seed=S,split=train|test,steps=A-B,max=M] (the built-in arithmetic word problems; default \
        n=500, seed=0, split=train, steps=1-3, max=20). Any of them may end in :subset=N,seed=S, a fixed seeded \
        choice of N items kept in dataset order (e.g. gsm8k-test:subset=400,seed=2026; see DatasetSubset.swift). \
        Questions are sent as one user message ending with \
        --suffix (default: the paper's ' Let's think step by step and output the final answer after "####".'), \
        after a --system message if given; "messages" records are sent as they are. All prompts are generated \
        together, at most --batch sequences at a time; the default is greedy decoding. The answer of a \
        completion is the number right after its last "####", else in its last \\boxed{}, else after "the \
        answer is", else its last number; it is correct when it equals the gold answer as a number (1,000 = 1000.0; 0.5 = \
        1/2). Accuracy is over all completions (items x samples) with a Wilson 95% interval. With --out DIR: \
        DIR/results.jsonl (one row per completion: id, sample, prompt, completion, extracted, extraction_rule, \
        gold, correct, finish_reason, tokens) and DIR/summary.json. --json prints \
        {"accuracy":a,"n":n,"ci95":[lo,hi]}; otherwise a summary is printed and a progress line is shown on stderr.
        """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var adapterOption: AdapterFileOption

    @Option(help: "A JSONL dataset file or a built-in name (gsm8k-test, arith[:...]).")
    var data: String

    @Option(help: "Score only the first N items.")
    var limit: Int?

    @Option(help: "Completions per item.")
    var samples = 1

    @Option(help: "Sampling temperature; 0 = greedy.")
    var temperature: Float = 0

    @Option(help: "Nucleus sampling: keep the most likely tokens up to this total probability (1 = off).")
    var topP: Float = 1

    @Option(help: "Random seed for sampling.")
    var seed: UInt64 = 0

    @Option(help: "Most tokens generated per completion.")
    var maxTokens = 512

    @Option(help: "Most sequences decoded together.")
    var batch = 32

    @OptionGroup var questionFormat: QuestionFormatOptions

    @Option(help: WeightsOption.help)
    var weights = "fp32"

    @OptionGroup var output: EvaluationOutputOptions

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be >= 1") }
        guard samples >= 1 else { throw ValidationError("--samples must be >= 1") }
        guard maxTokens >= 1 else { throw ValidationError("--max-tokens must be >= 1") }
        guard batch >= 1 else { throw ValidationError("--batch must be >= 1") }
        guard temperature.isFinite, temperature >= 0 else { throw ValidationError("--temperature must be >= 0") }
        guard topP > 0, topP <= 1 else { throw ValidationError("--top-p must be in (0, 1]") }
        _ = try WeightsOption.parse(weights)
    }

    func run() throws {
        // Everything that can fail on bad input is checked before the model is loaded.
        let format = questionFormat.format
        let dataset = try Dataset.load(data, prompt: format).prefix(limit)
        try Evaluation.checkScorable(dataset)
        try output.prepare()
        let adapterFile = try adapterOption.read()
        let opened = try modelOptions.open()
        let tokenizer = try opened.tokenizer()
        let model = try opened.transformer(forwardIn: try WeightsOption.parse(weights))
        try adapterOption.attach(adapterFile, to: model, opened: opened)

        let parameters = Evaluation.parameters(tokenizer: tokenizer, maxNewTokens: maxTokens, temperature: temperature,
                                               topP: topP, samples: samples, concurrency: batch, seed: seed)
        let evaluation = Evaluation(generator: Generator(model: model), tokenizer: tokenizer, parameters: parameters)
        let progress = EvalProgressLine()
        let report = try evaluation.run(dataset, progress: progress.enabled ? { progress.show($0) } : nil)
        progress.finish()

        try output.emit(report, extra: [
            ("model", JSON.string(modelOptions.model)), ("adapter", adapterOption.adapter.map(JSON.string) ?? "null"),
            ("max_tokens", "\(maxTokens)"), ("temperature", JSON.number(temperature)), ("seed", "\(seed)"),
        ], truncation: "reached --max-tokens \(maxTokens)", timed: true)
    }
}

/// The readable summary of `eval` and `grade`: dataset, items, accuracy with its interval, truncated completions
/// ("N completion(s) <truncation>"), the time and token rate when `timed`, and the files written to `out`.
func printEvaluationSummary(_ report: EvaluationReport, truncation: String, timed: Bool, out: String?) {
    let s = report.summary
    let percent = { (x: Double) in String(format: "%.1f%%", 100 * x) }
    print("dataset    \(report.dataset)")
    print("items      \(report.items)" + (report.samplesPerItem > 1 ? " x \(report.samplesPerItem) samples" : ""))
    print("accuracy   \(percent(s.accuracy)) (\(s.correct)/\(s.n)), 95% interval [\(percent(s.ci95.lower)), \(percent(s.ci95.upper))] (Wilson)")
    if report.truncated > 0 {
        print("truncated  \(report.truncated) completion(s) \(truncation)")
    }
    if timed {
        print(String(format: "time       %.1f s, %d tokens generated (%.1f tokens/s)", report.seconds,
                     report.statistics.generatedTokens, Double(report.statistics.generatedTokens) / max(report.seconds, 1e-9)))
    }
    if let out {
        print("results    \((out as NSString).appendingPathComponent("results.jsonl")), \((out as NSString).appendingPathComponent("summary.json"))")
    }
}

/// `eval 37/200  acc 0.412  tok/s 35  ETA 0:02:10` on stderr (the training line's style), redrawn in place on a
/// terminal; nothing is shown when stderr is not a terminal.
final class EvalProgressLine {
    let enabled = isatty(2) != 0
    private var lastDraw = -1.0
    private var drawn = false

    func show(_ p: EvaluationProgress) {
        guard p.seconds - lastDraw >= 0.25 || p.finished == p.total else { return }
        lastDraw = p.seconds
        let rate = Double(p.generatedTokens) / max(p.seconds, 1e-9)
        let accuracy = p.finished > 0 ? String(format: "%.3f", Double(p.correct) / Double(p.finished)) : "-"
        let eta = p.finished > 0 ? ProgressLine.duration(p.seconds / Double(p.finished) * Double(p.total - p.finished)) : "-:--:--"
        let line = "\reval \(p.finished)/\(p.total)  acc \(accuracy)  tok/s \(Int(rate.rounded()))  ETA \(eta)\u{1B}[K"
        FileHandle.standardError.write(Data(line.utf8))
        drawn = true
    }

    func finish() {
        if drawn { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
