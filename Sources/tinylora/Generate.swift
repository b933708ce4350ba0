import ArgumentParser
import Foundation
import Generation
import Tokenizers

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate a completion (streamed as text, or as JSON).",
        discussion: """
        Input: --messages (a chat, rendered with the model's template and the assistant header), or --text / \
        --text-file used as raw text (no template) unless --chat or --system is given, which make the text one \
        user message (after a system message with --system). Generation stops at the model's end-of-turn tokens, \
        at a --stop string, or after --max-tokens. The default is greedy decoding (--temperature 0). JSON form: \
        {"ids":[...],"text":"..."} for the completion only; ids include a final end-of-turn token, text does not \
        (and is cut before a stop string). With --samples N > 1, one such object per line (JSON) or each sample \
        after a header line (text).
        """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var prompt: PromptOptions
    @OptionGroup var adapterOption: AdapterFileOption

    @Flag(help: "Treat --text / --text-file as one user message and apply the chat template.")
    var chat = false

    @Option(help: "A system message placed before the user's text or the --messages (implies --chat).")
    var system: String?

    @Option(help: "Most tokens generated per sample.")
    var maxTokens = 256

    @Option(help: "Sampling temperature; 0 = greedy.")
    var temperature: Float = 0

    @Option(help: "Keep only the k most likely tokens (0 = off).")
    var topK = 0

    @Option(help: "Keep the smallest set of tokens whose probability reaches p (1 = off).")
    var topP: Float = 1

    @Option(help: "Drop tokens less likely than min-p times the most likely one (0 = off).")
    var minP: Float = 0

    @Option(help: "Penalty for tokens already present (1 = off).")
    var repetitionPenalty: Float = 1

    @Option(help: "Random seed: the same seed, input and options give the same samples.")
    var seed: UInt64 = 0

    @Option(help: "Stop when the completion contains this text (repeatable); the text is cut before it.")
    var stop: [String] = []

    @Option(help: "Completions of the prompt, generated together as one batch.")
    var samples = 1

    @Option(help: "Most sequences decoded together (default: all samples).")
    var batch: Int?

    @Option(help: WeightsOption.help)
    var weights = "fp32"

    @Flag(help: "Print JSON instead of streaming text.")
    var json = false

    @Flag(help: "Print token counts and throughput on stderr at the end.")
    var stats = false

    func validate() throws {
        guard prompt.givenCount == 1 else { throw ValidationError("give exactly one of --text, --text-file, --messages") }
        guard maxTokens >= 1 else { throw ValidationError("--max-tokens must be >= 1") }
        guard samples >= 1 else { throw ValidationError("--samples must be >= 1") }
        if let batch, batch < 1 { throw ValidationError("--batch must be >= 1") }
        if stop.contains("") { throw ValidationError("--stop must not be empty") }
        _ = try WeightsOption.parse(weights)
    }

    func run() throws {
        var input = try prompt.read()
        if case .text(let text) = input, chat || system != nil {
            input = .messages([InputMessage(role: "user", content: text)])
        }
        if let system, case .messages(let messages) = input {
            input = .messages([InputMessage(role: "system", content: system)] + messages)
        }
        let adapterFile = try adapterOption.read()
        let opened = try modelOptions.open()
        let tokenizer = try opened.tokenizer()
        let promptIds = try input.encode(with: tokenizer, addGenerationPrompt: true).ids
        let model = try opened.transformer(forwardIn: try WeightsOption.parse(weights))
        try adapterOption.attach(adapterFile, to: model, opened: opened)

        let parameters = GenerationParameters(
            maxNewTokens: maxTokens,
            sampling: SamplingParameters(temperature: temperature, topK: topK, topP: topP, minP: minP,
                                         repetitionPenalty: repetitionPenalty),
            seed: seed, stopTokenIds: tokenizer.endOfTurnIds, stopStrings: stop, samplesPerPrompt: samples,
            maxConcurrentSequences: batch ?? samples)
        let decode: ([Int]) -> String = { ids in (try? tokenizer.decode(ids)) ?? "" }
        let streamer = streamsText ? TextStreamer(tokenizer: tokenizer, holdBack: stop.map(\.count).max().map { $0 - 1 } ?? 0) : nil
        let result = try Generator(model: model).generate(
            prompts: [promptIds], parameters: parameters, decode: decode,
            onToken: streamer.map { s in { token in s.add(token) } })

        if let streamer {
            streamer.finish(with: result.completions[0].text ?? "")
            print()
        } else if json {
            for c in result.completions {
                print(JSON.object([("ids", JSON.ints(c.tokenIds)), ("text", JSON.string(c.text ?? ""))]))
            }
        } else {
            for (i, c) in result.completions.enumerated() {
                print("--- sample \(i + 1) of \(samples) (\(c.tokenIds.count) tokens, \(c.finishReason.rawValue)) ---")
                print(c.text ?? "")
            }
        }
        if stats {
            let s = result.statistics
            let line = String(format: "prompt %d tokens, prefill %.2f s (%.1f tokens/s); generated %d tokens, decode %.2f s (%.1f tokens/s)\n",
                              promptIds.count, s.prefillSeconds, Double(s.promptTokens) / max(s.prefillSeconds, 1e-9),
                              s.generatedTokens, s.decodeSeconds,
                              Double(s.generatedTokens - samples) / max(s.decodeSeconds, 1e-9))
            fflush(stdout)  // the completion (stdout) comes before the statistics (stderr) when both go to one pipe
            FileHandle.standardError.write(Data(line.utf8))
        }
    }

    /// Text streams for a single sample without --json.
    var streamsText: Bool { !json && samples == 1 }
}

/// Prints a completion while it is generated. Only whole characters are printed, and the last `holdBack`
/// characters wait until more text follows, so that no part of a stop string is ever shown. The final end-of-turn
/// token is not printed.
final class TextStreamer {
    private var decoder: StreamingDecoder
    private let holdBack: Int
    private var pending: [Character] = []
    private var printed = ""

    init(tokenizer: Tokenizer, holdBack: Int) {
        decoder = tokenizer.streamingDecoder()
        self.holdBack = holdBack
    }

    func add(_ token: GeneratedToken) {
        // The end-of-turn token is not text; the token completing a stop string is left to `finish`.
        if token.finishReason == .stopToken || token.finishReason == .stopString { return }
        pending.append(contentsOf: (try? decoder.add(token.tokenId)) ?? "")
        if pending.count > holdBack {
            let ready = String(pending.prefix(pending.count - holdBack))
            pending.removeFirst(pending.count - holdBack)
            emit(ready)
        }
    }

    /// Prints what remains of the final text (which the generator cut before any stop string).
    func finish(with final: String) {
        if final.hasPrefix(printed) {
            emit(String(final.dropFirst(printed.count)))
        }
    }

    private func emit(_ text: String) {
        guard !text.isEmpty else { return }
        printed += text
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}
