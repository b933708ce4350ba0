import Adapters
import ArgumentParser
import Foundation
import Generation
import Numerics
import Transformer

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure prefill and decode throughput of batched greedy generation.",
        discussion: """
        Generates --new-tokens tokens greedily for --batch prompts of --prompt-tokens random token ids (seeded), \
        with no stop token, through the same batched generator as `generate`. Prefill throughput is prompt \
        tokens / prefill time; decode throughput counts the tokens of all sequences produced by the decode steps \
        (the first token of each sequence comes from the prefill) / decode time. With --weights bf16 the weights are \
        packed after loading (pack_seconds in JSON, not part of load_seconds); with --weights native (GGUF models) \
        the quantized linear layers are loaded as their blocks only (no fp32 copy) and decoded inside each product. generate_cpu_seconds (JSON) is the \
        CPU time of the process during prefill and decode: on a busy machine it shows the cores actually obtained; \
        pool_backoffs (JSON) counts the times the spinning thread pool stepped aside for a competing process. Peak RSS is VmHWM from \
        /proc/self/status after the run (it includes loading the model).

        With --factors, times building an adapter's frozen factors instead: the top-r truncated SVD (r = \
        --factor-rank) of every target weight (all seven projections of every layer), each weight read and \
        dequantized to fp32 and fingerprinted first, --threads weights at a time (what `adapter init` and loading \
        an adapter cost). JSON form: {"model", "threads", "rank", "modules", "seconds" (wall clock, all of it), \
        "cpu_seconds" (CPU time of the process meanwhile: on a busy machine, cpu_seconds / threads is what idle \
        cores would take), "read_seconds" (summed over threads: reading + dequantizing), "peak_rss_mb"}.

        With --backward, times one adapter forward+backward instead (see BenchBackward.swift): --batch sequences \
        of --prompt-tokens random token ids, a TinyLoRA adapter (r = 2, u = --u, all seven projections of every \
        layer tied to one v) and the gradient of the mean next-token log-likelihood of every token; with \
        --weights bf16 its forward and input gradients run from bf16 copies of W and Wᵀ (as `train \
        --backward-weights bf16`).
        """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(help: "Sequences generated together.")
    var batch = 1

    @Option(help: "Tokens in each prompt.")
    var promptTokens = 512

    @Option(help: "Tokens generated per sequence.")
    var newTokens = 128

    @Option(help: "Weights of the forward pass: fp32 (every tensor dequantized to fp32 at load), bf16 (a bf16 copy of every linear layer and the LM head, packed after loading, products with AVX-512 BF16; needs a CPU with avx512_bf16) or native (a GGUF model's quantized blocks, no fp32 copy of the linear layers; not with --backward). With bf16 and native the KV cache is fp16.")
    var weights = "fp32"

    @Option(help: "Seed of the random prompt tokens.")
    var seed: UInt64 = 0

    @Flag(help: "Time the frozen factors (top-r SVD of every target weight) instead of generation.")
    var factors = false

    @Option(help: "With --factors: the rank r.")
    var factorRank = 2

    @Flag(help: "Time one adapter forward+backward (--batch sequences of --prompt-tokens tokens) instead of generation.")
    var backward = false

    @Option(help: "With --backward: TinyLoRA's u (trained values of the one tied vector v).")
    var u = 13

    @Flag(help: "Print one JSON object.")
    var json = false

    func validate() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be >= 1") }
        guard promptTokens >= 1 else { throw ValidationError("--prompt-tokens must be >= 1") }
        guard newTokens >= 2 else { throw ValidationError("--new-tokens must be >= 2 (one comes from the prefill)") }
        _ = try WeightsOption.parse(weights, forwardOnly: !backward)
    }

    func run() throws {
        if factors { return try runFactors() }
        if backward { return try runBackward() }
        let opened = try modelOptions.open()
        let location = opened.location
        let format = try WeightsOption.parse(weights)
        let loadStart = now()
        let model = try format == .native ? opened.transformer(forwardIn: .native) : opened.transformer()
        let loadSeconds = now() - loadStart
        let packStart = now()
        try model.useWeights(format)
        let packSeconds = now() - packStart
        guard promptTokens + newTokens <= model.contextLength else {
            throw CLIError("--prompt-tokens + --new-tokens = \(promptTokens + newTokens) exceeds the model's context of \(model.contextLength)")
        }
        var random = Xoshiro256StarStar(seed: seed)
        let prompts = (0 ..< batch).map { _ in
            (0 ..< promptTokens).map { _ in Int(random.next(below: UInt64(model.vocabularySize))) }
        }
        let parameters = GenerationParameters(
            maxNewTokens: newTokens, sampling: .greedy, maxConcurrentSequences: batch,
            prefillTokenBudget: max(2048, promptTokens))
        let cpuStart = processCPUSeconds()
        let result = try Generator(model: model).generate(prompts: prompts, parameters: parameters)
        let generateCPUSeconds = processCPUSeconds() - cpuStart
        let s = result.statistics
        let decodedTokens = s.generatedTokens - batch
        let prefillRate = Double(s.promptTokens) / s.prefillSeconds
        let decodeRate = Double(decodedTokens) / s.decodeSeconds
        let rss = peakResidentMiB() ?? 0
        if json {
            print(JSON.object([
                ("model", JSON.string(location.path)),
                ("batch", "\(batch)"),
                ("prompt_tokens", "\(promptTokens)"),
                ("new_tokens", "\(newTokens)"),
                ("threads", "\(modelOptions.threadCount)"),
                ("weights", JSON.string(weights)),
                ("load_seconds", JSON.number(loadSeconds)),
                ("pack_seconds", JSON.number(packSeconds)),
                ("prefill_seconds", JSON.number(s.prefillSeconds)),
                ("decode_seconds", JSON.number(s.decodeSeconds)),
                ("prefill_tokens_per_s", JSON.number(prefillRate)),
                ("decode_tokens_per_s", JSON.number(decodeRate)),
                ("generate_cpu_seconds", JSON.number(generateCPUSeconds)),
                ("pool_backoffs", "\(Parallel.poolBackoffs)"),
                ("peak_rss_mb", JSON.number(rss)),
            ]))
        } else {
            print("model:   \(location.path) (\(weights), \(modelOptions.threadCount) threads, loaded in \(String(format: "%.1f", loadSeconds)) s"
                + (format != .bf16 ? ")" : ", packed in \(String(format: "%.1f", packSeconds)) s)"))
            print("prefill: \(s.promptTokens) tokens in \(String(format: "%.2f", s.prefillSeconds)) s = \(String(format: "%.1f", prefillRate)) tokens/s")
            print("decode:  \(decodedTokens) tokens (batch \(batch)) in \(String(format: "%.2f", s.decodeSeconds)) s = \(String(format: "%.1f", decodeRate)) tokens/s")
            print("peak RSS: \(String(format: "%.0f", rss)) MiB")
        }
    }

    /// --factors: the wall-clock time of `FrozenBase.build` over all seven projections of every layer.
    func runFactors() throws {
        guard factorRank >= 1 else { throw CLIError("--factor-rank must be >= 1, not \(factorRank)") }
        let opened = try modelOptions.open()
        let config = try opened.config()
        let plan = try AdapterPlan(configuration: AdapterConfiguration(method: .tinyLoRA, rank: factorRank), model: config)
        let source = try opened.weightSource(config)
        let lock = NSLock()
        var readSeconds = 0.0
        let cpuStart = processCPUSeconds()
        let base = try FrozenBase.build(plan: plan, threads: modelOptions.threadCount) { m in
            let start = now()
            let name = m.tensorName
            guard let w = try source.tensor(name, shape: name.shape(config)) else {
                throw CLIError("the model has no tensor \(name.huggingFace)")
            }
            lock.lock()
            readSeconds += now() - start
            lock.unlock()
            return w
        }
        let cpuSeconds = processCPUSeconds() - cpuStart
        let rss = peakResidentMiB() ?? 0
        if json {
            print(JSON.object([
                ("model", JSON.string(opened.location.path)),
                ("threads", "\(modelOptions.threadCount)"),
                ("rank", "\(factorRank)"),
                ("modules", "\(plan.modules.count)"),
                ("seconds", JSON.number(base.seconds)),
                ("cpu_seconds", JSON.number(cpuSeconds)),
                ("read_seconds", JSON.number(readSeconds)),
                ("peak_rss_mb", JSON.number(rss)),
            ]))
        } else {
            print("model:   \(opened.location.path) (\(modelOptions.threadCount) threads)")
            print("factors: top-\(factorRank) SVD of \(plan.modules.count) target weights in \(String(format: "%.2f", base.seconds)) s (CPU \(String(format: "%.2f", cpuSeconds)) s; reading and dequantizing: \(String(format: "%.2f", readSeconds)) thread-seconds)")
            print("peak RSS: \(String(format: "%.0f", rss)) MiB")
        }
    }
}

/// CPU seconds (user + system, all threads) used by this process so far.
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec)
        + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) * 1e-6
}
