import Foundation

/// Settings of one `Generator.generate` call.
public struct GenerationParameters: Sendable {
    /// Most tokens generated per sequence (>= 1).
    public var maxNewTokens: Int
    public var sampling: SamplingParameters
    /// Sequence (prompt p, sample s) draws from `Xoshiro256StarStar(seed:
    /// streamSeed(streamSeed(seed, promptStream[p]), s))`, where promptStream[p] is p unless `generate` is given
    /// explicit stream ids. A result therefore depends only on (seed, stream, sample index, prompt, model), never on
    /// which other sequences run in the same batch.
    public var seed: UInt64
    /// Generating one of these ends the sequence with `.stopToken` (typically the end-of-turn / EOS ids).
    public var stopTokenIds: Set<Int>
    /// Text that ends the sequence with `.stopString` once the decoded completion contains it; needs a decoder.
    public var stopStrings: [String]
    /// Completions per prompt (G, >= 1): the prompt is prefilled once and its cache slot copied to the others.
    public var samplesPerPrompt: Int
    /// Most sequences held in the KV cache at once (raised to `samplesPerPrompt` if smaller). Prompts wait until
    /// enough slots are free; as sequences finish, their slots take the next prompts. Bounds the cache memory:
    /// slots × capacity × layers × 2 × kvDim × 4 bytes.
    public var maxConcurrentSequences: Int
    /// Most prompt tokens sent to the model in one prefill forward (>= 1); longer prompts are prefilled in chunks.
    public var prefillTokenBudget: Int

    public init(maxNewTokens: Int, sampling: SamplingParameters = .greedy, seed: UInt64 = 0,
                stopTokenIds: Set<Int> = [], stopStrings: [String] = [], samplesPerPrompt: Int = 1,
                maxConcurrentSequences: Int = 64, prefillTokenBudget: Int = 2048) {
        self.maxNewTokens = maxNewTokens
        self.sampling = sampling
        self.seed = seed
        self.stopTokenIds = stopTokenIds
        self.stopStrings = stopStrings
        self.samplesPerPrompt = samplesPerPrompt
        self.maxConcurrentSequences = maxConcurrentSequences
        self.prefillTokenBudget = prefillTokenBudget
    }

    /// Throws a `GenerationError` or `SamplingError` naming the first bad value.
    public func validate() throws {
        guard maxNewTokens >= 1 else { throw GenerationError.invalidParameter("max new tokens must be >= 1, got \(maxNewTokens)") }
        guard samplesPerPrompt >= 1 else {
            throw GenerationError.invalidParameter("samples per prompt must be >= 1, got \(samplesPerPrompt)")
        }
        guard maxConcurrentSequences >= 1 else {
            throw GenerationError.invalidParameter("max concurrent sequences must be >= 1, got \(maxConcurrentSequences)")
        }
        guard prefillTokenBudget >= 1 else {
            throw GenerationError.invalidParameter("prefill token budget must be >= 1, got \(prefillTokenBudget)")
        }
        try sampling.validate()
        _ = try StopStrings(stopStrings)
    }
}

/// Why a sequence ended.
public enum FinishReason: String, Sendable, Equatable {
    /// It generated one of `stopTokenIds` (kept as the last id of the completion).
    case stopToken = "stop"
    /// Its decoded text contains a stop string.
    case stopString = "stop_string"
    /// It reached `maxNewTokens`.
    case maxTokens = "length"
    /// Prompt + completion filled the model's context.
    case contextFull = "context_full"

    /// Cut short by a length limit (`maxTokens` or `contextFull`) rather than finished by a stop.
    public var isTruncation: Bool { self == .maxTokens || self == .contextFull }
}

/// One generated sequence.
public struct Completion: Sendable, Equatable {
    public var promptIndex: Int
    public var sampleIndex: Int
    /// Every token generated, in order, including a final stop token and the tokens that spell a stop string.
    public var tokenIds: [Int]
    public var finishReason: FinishReason
    /// With a decoder: the decoded completion without a final stop token, cut before the first stop string.
    public var text: String?

    public init(promptIndex: Int, sampleIndex: Int, tokenIds: [Int], finishReason: FinishReason, text: String?) {
        self.promptIndex = promptIndex
        self.sampleIndex = sampleIndex
        self.tokenIds = tokenIds
        self.finishReason = finishReason
        self.text = text
    }
}

/// Streamed once per generated token, in generation order.
public struct GeneratedToken: Sendable, Equatable {
    /// promptIndex × samplesPerPrompt + sampleIndex: the index of this sequence's `Completion` in the result.
    public var sequence: Int
    public var promptIndex: Int
    public var sampleIndex: Int
    public var tokenId: Int
    /// Set when this token ends the sequence.
    public var finishReason: FinishReason?
}

/// Work done by one `generate` call (for throughput reports).
public struct GenerationStatistics: Sendable, Equatable {
    public var promptTokens = 0
    public var generatedTokens = 0
    public var prefillForwards = 0
    public var decodeForwards = 0
    public var prefillSeconds = 0.0
    public var decodeSeconds = 0.0
    /// Largest number of sequences decoded in one forward.
    public var largestDecodeBatch = 0

    public init() {}
}

public struct GenerationResult: Sendable {
    /// One per (prompt, sample), at index promptIndex × samplesPerPrompt + sampleIndex.
    public var completions: [Completion]
    public var statistics: GenerationStatistics
}

public enum GenerationError: Error, Equatable, CustomStringConvertible {
    case invalidParameter(String)
    case emptyPrompt(index: Int)
    case promptTooLong(index: Int, length: Int, contextLength: Int)
    case tokenOutOfRange(promptIndex: Int, token: Int, vocabularySize: Int)
    case emptyStopString(index: Int)
    case stopStringsNeedDecoder
    case streamCountMismatch(prompts: Int, streams: Int)
    case unexpectedModelOutput(String)
    case cacheTooLarge(slots: Int, capacity: Int, bytes: Double, limit: Double)

    public var description: String {
        switch self {
        case .invalidParameter(let message):
            return "invalid generation parameter: \(message)"
        case .emptyPrompt(let index):
            return "prompt \(index) is empty: a prompt needs at least one token"
        case .promptTooLong(let index, let length, let contextLength):
            return "prompt \(index) has \(length) tokens; the model's context of \(contextLength) tokens leaves no room "
                + "for a new token (at most \(contextLength - 1) prompt tokens)"
        case .tokenOutOfRange(let promptIndex, let token, let vocabularySize):
            return "prompt \(promptIndex) contains token id \(token), outside the vocabulary [0, \(vocabularySize))"
        case .emptyStopString(let index):
            return "stop string \(index) is empty"
        case .stopStringsNeedDecoder:
            return "stop strings need a decoder to turn token ids into text"
        case .streamCountMismatch(let prompts, let streams):
            return "\(streams) stream ids given for \(prompts) prompts"
        case .unexpectedModelOutput(let message):
            return "the model returned unexpected output: \(message)"
        case .cacheTooLarge(let slots, let capacity, let bytes, let limit):
            let gib = { (x: Double) in String(format: "%.1f GiB", x / 1_073_741_824) }
            return "a KV cache for \(slots) sequences of \(capacity) tokens needs \(gib(bytes)), more than the "
                + "\(gib(limit)) allowed (3/4 of this machine's memory): lower max concurrent sequences or max tokens"
        }
    }
}
