import Adapters
import ArgumentParser
import Foundation
import Generation
import ModelFiles
import Tasks
import Tokenizers
import Training
import Transformer

/// The README's main job: measure, GRPO-train a tiny TinyLoRA adapter, measure again, in one process.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Teach a model with a 13-parameter TinyLoRA adapter and GRPO: accuracy before and after.",
        discussion: """
        Loads --model once, scores it greedily on --eval-items held-out problems of the built-in generator \
        (--eval-data, the test split: no question is shared with the training split), GRPO-trains a TinyLoRA \
        adapter (u=--u values, every module of the model tied to the same vector: --u parameters in all) on the \
        training split, scores again with the adapter and prints a before/after table with Wilson 95% intervals. \
        Writes into --out: adapter.tla (the trained adapter), metrics.jsonl and checkpoints/ (see `tinylora train`), \
        reward.svg (reward and accuracy per step), before/ and after/ (results.jsonl and summary.json of each \
        evaluation) and summary.json (with the --weights used).
        """)

    @Option(help: "A built-in model name, a .gguf path or a Hugging Face model directory.")
    var model: String = "qwen2.5-coder-0.5b"

    @Option(help: "Worker threads (default: the number of CPUs).")
    var threads: Int?

    @Option(help: "Weights of the evaluations and the GRPO rollouts: fp32, bf16 (a bf16 copy of every linear layer and the LM head, AVX-512 BF16 products, about twice as fast; needs avx512_bf16), native (a GGUF model's own quantized blocks, mapped from the file) or auto (bf16 when the CPU has it, else fp32). Training's backward: --backward-weights.")
    var weights = "auto"

    @Option(help: "Weights of training's forward+backward passes: fp32 (exact gradients), bf16 (bf16 copies of W and Wᵀ: about twice as fast, gradients within ~1-2% of fp32; needs avx512_bf16) or auto (bf16 when the CPU has it, else fp32).")
    var backwardWeights = "auto"

    @Option(help: "Trained values: TinyLoRA's u with every module tied to one vector.")
    var u = 13

    @Option(help: "Training problems (any --data of `tinylora train`).")
    var trainData = "arith:split=train,n=2000,steps=2-3"

    @Option(help: "Held-out problems for the before/after evaluation.")
    var evalData = "arith:split=test,seed=1,steps=2-3"

    @Option(help: "Held-out problems scored before and after training.")
    var evalItems = 200

    @Option(help: "Text appended to each question.")
    var suffix = PromptFormat.paperSuffix

    @Option(help: "Most new tokens per completion (rollouts and evaluation).")
    var maxTokens = 160

    @Option(help: "GRPO steps.")
    var steps = 10

    @Option(help: "Prompts per GRPO step.")
    var batch = 3

    @Option(help: "Completions sampled per prompt.")
    var group = 8

    @Option(help: "DAPO's soft overlong punishment in the reward: completions longer than --max-tokens minus N lose up to 1 (at --max-tokens); 0 = off.")
    var overlongBuffer = 0

    @Option(help: "Learning rate (AdamW, constant).")
    var lr: Float = 5e-3

    @Option(help: "Seed of the data order and rollout sampling.")
    var seed: UInt64 = 0

    @Option(help: "Output directory (a previous demo run in it is replaced).")
    var out = "demo-run"

    func validate() throws {
        guard u >= 1 else { throw ValidationError("--u must be >= 1") }
        guard evalItems >= 1 else { throw ValidationError("--eval-items must be >= 1") }
        guard maxTokens >= 1 else { throw ValidationError("--max-tokens must be >= 1") }
        if let threads, threads < 1 { throw ValidationError("--threads must be >= 1") }
        _ = try WeightsOption.parse(weights, allowingAuto: true)
        _ = try WeightsOption.parse(backwardWeights, option: "--backward-weights", allowingAuto: true, forwardOnly: false)
    }

    func run() throws {
        let clock = Date()
        let format = PromptFormat(systemMessage: nil, instructionSuffix: suffix)
        let trainSet = try Dataset.load(trainData, prompt: format)
        let evalSet = try Dataset.load(evalData, prompt: format).prefix(evalItems)
        var settings = TrainingSettings()
        settings.steps = steps
        settings.promptsPerStep = batch
        settings.groupSize = group
        settings.maxNewTokens = maxTokens
        settings.learningRate = lr
        settings.overlongBuffer = overlongBuffer
        settings.seed = seed
        settings.checkpointEvery = 5
        try settings.validate()
        let outURL = URL(fileURLWithPath: out)
        let run = try RunDirectory(url: outURL)

        let opened = try OpenedModel(location: resolveModel(model),
                                     threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
        let tokenizer = try opened.tokenizer()
        let weightFormat = try WeightsOption.parse(weights, allowingAuto: true)
        let backwardFormat = try WeightsOption.parse(backwardWeights, option: "--backward-weights", allowingAuto: true,
                                                     forwardOnly: false)
        let transformer = try opened.transformer(rolloutsIn: weightFormat, backwardIn: backwardFormat)
        let configuration = AdapterConfiguration(method: .tinyLoRA, rank: 2, u: u, tying: .all, seed: 42)
        let plan = try AdapterPlan(configuration: configuration, model: transformer.config)
        let base = try FrozenBase.build(plan: plan, model: transformer.config,
                                        weights: try opened.weightSource(transformer.config), threads: opened.threads)
        let adapter = try Adapter(base: base)
        printErr("model \(model): \(plan.modules.count) target modules, TinyLoRA factors built in "
            + String(format: "%.1f s", base.seconds) + "; training \(plan.trainableParameterCount) parameters")

        printErr("weights: \(weightFormat.rawValue) for evaluations and rollouts, \(backwardFormat.rawValue) for the "
            + "training backward")
        let generator = Generator(model: transformer)
        let parameters = Evaluation.parameters(tokenizer: tokenizer, maxNewTokens: maxTokens, concurrency: 64)
        let evaluation = Evaluation(generator: generator, tokenizer: tokenizer, parameters: parameters)
        func evaluate(_ label: String) throws -> EvaluationReport {
            try transformer.useWeights(weightFormat, keepPacked: true)
            printErr("evaluating \(label) on \(evalSet.count) held-out problems (greedy, up to \(maxTokens) tokens)...")
            let report = try evaluation.run(evalSet)
            try report.write(to: outURL.appendingPathComponent(label).path)
            printErr(String(format: "  accuracy %.1f%% in %.0f s", 100 * report.summary.accuracy, report.seconds))
            return report
        }
        let before = try evaluate("before")

        printErr("GRPO: \(steps) steps x \(batch) prompts x \(group) samples, lr \(lr)")
        let trainer = try AdapterTrainer(model: transformer, tokenizer: tokenizer, adapter: adapter, dataset: trainSet,
                                         settings: settings, run: run)
        try trainer.useRolloutWeights(weightFormat)
        try trainer.useBackwardWeights(backwardFormat)
        let trainStart = Date()
        let records = try trainer.train(resume: false, progress: ProgressReporter(interval: 0))
        let trainSeconds = Date().timeIntervalSince(trainStart)

        try adapter.attach(to: transformer)
        let after = try evaluate("after")
        adapter.detach(from: transformer)

        let svg = try SVGPlot.metricsChart(records, keys: ["reward_mean", "accuracy"], source: "the demo's metrics",
                                           options: SVGPlot.Options(title: "GRPO with \(plan.trainableParameterCount) "
                                               + "TinyLoRA parameters on \(model)"))
        let plotURL = outURL.appendingPathComponent("reward.svg")
        try AtomicFileWriter.write(Array(svg.utf8), to: plotURL.path)
        let adapterBytes = (try? FileManager.default.attributesOfItem(atPath: trainer.finalAdapterURL.path)[.size] as? Int) ?? 0

        func row(_ label: String, _ r: EvaluationReport) -> String {
            let s = r.summary
            let meanLength = Double(r.records.reduce(0) { $0 + $1.completionTokens }) / Double(max(r.records.count, 1))
            return label.padding(toLength: 22, withPad: " ", startingAt: 0)
                + String(format: "%5.1f%%  [%5.1f%%, %5.1f%%]  %3d/%-3d  %6.1f  %4d", 100 * s.accuracy, 100 * s.ci95.lower,
                         100 * s.ci95.upper, s.correct, s.n, meanLength, r.truncated)
        }
        print("")
        print("held-out accuracy on \(evalSet.count) problems (\(evalSet.name)), greedy, \(maxTokens) new tokens at most")
        print("model                 accuracy  95% interval (Wilson)  correct  mean len  cut")
        print(row("base", before))
        print(row("+ TinyLoRA (\(plan.trainableParameterCount) params)", after))
        let flips = pairedFlips(before: before, after: after)
        print(String(format: "paired      %d problem(s) wrong -> right, %d right -> wrong (exact McNemar two-sided p = %.3g)",
                     flips.gained, flips.lost, flips.p))
        print("")
        print("adapter     \(trainer.finalAdapterURL.path): \(adapterBytes) bytes "
            + "(\(plan.trainableParameterCount) fp32 values + header)")
        print("reward      \(plotURL.path) (metrics: \(run.metricsURL.path))")
        print(String(format: "time        %.0f s in all, %.0f s training", Date().timeIntervalSince(clock), trainSeconds))
        let summary = """
        {"model":\(JSONText.quoted(model)),"weights":\(JSONText.quoted(weightFormat.rawValue)),"backward_weights":\(JSONText.quoted(backwardFormat.rawValue)),"trainable_parameters":\(plan.trainableParameterCount),\
        "adapter_bytes":\(adapterBytes),"eval_items":\(evalSet.count),\
        "before":\(before.accuracyJSON),"after":\(after.accuracyJSON),\
        "gained":\(flips.gained),"lost":\(flips.lost),"mcnemar_p":\(flips.p),\
        "train_seconds":\(trainSeconds),"total_seconds":\(Date().timeIntervalSince(clock))}
        """
        try AtomicFileWriter.write(Array((summary + "\n").utf8), to: outURL.appendingPathComponent("summary.json").path)
    }
}

/// Items scored wrong before and right after (`gained`), the reverse (`lost`), and the exact McNemar p-value.
func pairedFlips(before: EvaluationReport, after: EvaluationReport) -> (gained: Int, lost: Int, p: Double) {
    var was: [String: Bool] = [:]
    for r in before.records where r.sampleIndex == 0 { was[r.exampleID] = r.correct }
    var gained = 0, lost = 0
    for r in after.records where r.sampleIndex == 0 {
        guard let b = was[r.exampleID] else { continue }
        if !b && r.correct { gained += 1 }
        if b && !r.correct { lost += 1 }
    }
    return (gained, lost, AccuracySummary.mcNemarExactP(gained: gained, lost: lost))
}
