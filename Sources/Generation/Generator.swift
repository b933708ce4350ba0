import Foundation
import Numerics
import Transformer

/// Batched generation over a `CausalLM`: many prompts of different lengths, each with `samplesPerPrompt`
/// completions, every sequence in its own KV-cache slot.
///
/// Loop (continuous batching):
/// 1. Admit waiting prompts while `samplesPerPrompt` cache slots are free. Prefill the admitted prompts together
///    (one forward, or several when their tokens exceed `prefillTokenBudget`; long prompts go in chunks) into the
///    first slot of each group, copy that slot to the group's other slots (`KVCache.copy`), and sample each
///    sequence's first token from the prompt's last logits row with the sequence's own random stream.
/// 2. Feed every running sequence's newest token in one decode forward (one token per sequence) and sample the
///    next one. A sequence that finishes leaves the batch and frees its slot for the next prompt.
///
/// Per generated token, in this order: a stop token ends the sequence (`.stopToken`); else, with stop strings, the
/// whole completion is decoded and a stop string in it ends it (`.stopString`); else reaching `maxNewTokens` ends
/// it (`.maxTokens`); else prompt + completion reaching the context length ends it (`.contextFull`). The cache
/// capacity is min(contextLength, longest prompt + maxNewTokens), so no slot ever overflows.
///
/// The KV cache is kept between calls and reused when it is large enough (so repeated rollouts do not allocate and
/// zero it every time); `releaseCache()` frees it. Results never depend on this reuse. Not thread-safe: use one
/// generator per thread.
public final class Generator {
    public let model: CausalLM
    private var cache: KVCache?

    public init(model: CausalLM) {
        self.model = model
    }

    /// Frees the KV cache kept from the last call.
    public func releaseCache() {
        cache = nil
    }

    /// A cache with at least `slots` slots of `capacity` positions: the kept one if it is large enough and in the
    /// number format the model's caches take now (a switch of its weights changes that). Refuses to allocate more
    /// than 3/4 of the machine's memory (a 1-position probe cache gives the size per position and the format).
    private func cache(slots: Int, capacity: Int) throws -> KVCache {
        let probe = model.makeCache(slots: 1, capacity: 1)
        if let cache, cache.slots >= slots, cache.capacity >= capacity, cache.storage == probe.storage { return cache }
        cache = nil // free the old one before allocating
        let bytesPerPosition = Double(probe.bytesPerPosition)
        let bytes = Double(slots) * Double(capacity) * bytesPerPosition
        let limit = Double(ProcessInfo.processInfo.physicalMemory) * 0.75
        guard bytes <= limit else {
            throw GenerationError.cacheTooLarge(slots: slots, capacity: capacity, bytes: bytes, limit: limit)
        }
        let fresh = model.makeCache(slots: slots, capacity: capacity)
        cache = fresh
        return fresh
    }

    /// Generates completions for `prompts` (token ids).
    ///
    /// - Parameters:
    ///   - streams: per-prompt stream ids for the random streams (default: the prompt's index), so that a prompt run
    ///     alone or in another batch can reproduce its result.
    ///   - decode: turns completion ids into text; needed for stop strings, and fills `Completion.text`.
    ///   - onToken: called after each generated token (for streaming).
    public func generate(prompts: [[Int]], parameters: GenerationParameters, streams: [UInt64]? = nil,
                         decode: (([Int]) -> String)? = nil,
                         onToken: ((GeneratedToken) -> Void)? = nil) throws -> GenerationResult {
        try parameters.validate()
        let stops = try StopStrings(parameters.stopStrings)
        if !stops.isEmpty && decode == nil { throw GenerationError.stopStringsNeedDecoder }
        if let streams, streams.count != prompts.count {
            throw GenerationError.streamCountMismatch(prompts: prompts.count, streams: streams.count)
        }
        try validate(prompts: prompts)
        var run = Run(model: model, prompts: prompts, parameters: parameters, streams: streams, stops: stops,
                      decode: decode, onToken: onToken, sampler: try Sampler(parameters.sampling))
        if !prompts.isEmpty {
            let group = parameters.samplesPerPrompt
            let longestPrompt = prompts.map(\.count).max()!
            let capacity = min(model.contextLength, longestPrompt + min(parameters.maxNewTokens, model.contextLength))
            let slots = min(prompts.count * group, max(parameters.maxConcurrentSequences, group))
            try run.execute(cache: try cache(slots: slots, capacity: capacity), slots: slots, capacity: capacity)
        }
        return GenerationResult(completions: run.results.map { $0! }, statistics: run.statistics)
    }

    private func validate(prompts: [[Int]]) throws {
        for (index, prompt) in prompts.enumerated() {
            guard !prompt.isEmpty else { throw GenerationError.emptyPrompt(index: index) }
            guard prompt.count < model.contextLength else {
                throw GenerationError.promptTooLong(index: index, length: prompt.count, contextLength: model.contextLength)
            }
            if let bad = prompt.first(where: { $0 < 0 || $0 >= model.vocabularySize }) {
                throw GenerationError.tokenOutOfRange(promptIndex: index, token: bad, vocabularySize: model.vocabularySize)
            }
        }
    }
}

/// The state of one `generate` call.
private struct Run {
    struct Sequence {
        let promptIndex: Int
        let sampleIndex: Int
        let slot: Int
        let promptLength: Int
        var tokens: [Int] = []
        /// Prompt and completion tokens, kept only when a repetition penalty is set.
        var seen: Set<Int>
        var random: Xoshiro256StarStar
    }

    let model: CausalLM
    let prompts: [[Int]]
    let parameters: GenerationParameters
    let streams: [UInt64]?
    let stops: StopStrings
    let decode: (([Int]) -> String)?
    let onToken: ((GeneratedToken) -> Void)?
    var sampler: Sampler

    var results: [Completion?]
    var statistics = GenerationStatistics()
    private var running: [Sequence] = []
    private var freeSlots: [Int] = []
    private var nextPrompt = 0
    private var lengthLimit = 0

    init(model: CausalLM, prompts: [[Int]], parameters: GenerationParameters, streams: [UInt64]?,
         stops: StopStrings, decode: (([Int]) -> String)?, onToken: ((GeneratedToken) -> Void)?, sampler: Sampler) {
        self.model = model
        self.prompts = prompts
        self.parameters = parameters
        self.streams = streams
        self.stops = stops
        self.decode = decode
        self.onToken = onToken
        self.sampler = sampler
        results = Array(repeating: nil, count: prompts.count * parameters.samplesPerPrompt)
    }

    private var group: Int { parameters.samplesPerPrompt }

    /// Runs every prompt to completion using the first `slots` slots of `cache`, treating it as holding `capacity`
    /// positions per slot (it may hold more).
    mutating func execute(cache: KVCache, slots: Int, capacity: Int) throws {
        guard cache.slots >= slots, cache.capacity >= capacity else {
            throw GenerationError.unexpectedModelOutput(
                "makeCache returned \(cache.slots) slots of \(cache.capacity) for \(slots) of \(capacity)")
        }
        lengthLimit = min(model.contextLength, capacity)
        freeSlots = Array((0 ..< slots).reversed())
        for slot in 0 ..< slots { cache.reset(slot: slot) }

        while nextPrompt < prompts.count || !running.isEmpty {
            var admitted: [(prompt: Int, slots: [Int])] = []
            while nextPrompt < prompts.count && freeSlots.count >= group {
                admitted.append((nextPrompt, (0 ..< group).map { _ in freeSlots.removeLast() }))
                nextPrompt += 1
            }
            if !admitted.isEmpty { try prefill(admitted, cache: cache) }
            if !running.isEmpty { try decodeStep(cache: cache) }
        }
    }

    /// Prefills the admitted prompts into their groups' first slots and samples every sequence's first token.
    private mutating func prefill(_ admitted: [(prompt: Int, slots: [Int])], cache: KVCache) throws {
        let start = ContinuousClock.now
        var offsets = [Int](repeating: 0, count: admitted.count)
        var lastRows = [[Float]?](repeating: nil, count: admitted.count)
        while let first = offsets.indices.first(where: { offsets[$0] < prompts[admitted[$0].prompt].count }) {
            var members: [Int] = []
            var chunks: [[Int]] = []
            var budget = parameters.prefillTokenBudget
            for i in first ..< admitted.count where budget > 0 {
                let prompt = prompts[admitted[i].prompt]
                let take = min(prompt.count - offsets[i], budget)
                guard take > 0 else { continue }
                members.append(i)
                chunks.append(Array(prompt[offsets[i] ..< offsets[i] + take]))
                budget -= take
            }
            let logits = try model.forward(tokens: chunks, slots: members.map { admitted[$0].slots[0] }, cache: cache,
                                           allPositions: false)
            try check(logits, rows: members.count)
            statistics.prefillForwards += 1
            for (row, i) in members.enumerated() {
                offsets[i] += chunks[row].count
                statistics.promptTokens += chunks[row].count
                if offsets[i] == prompts[admitted[i].prompt].count { lastRows[i] = Array(logits[row]) }
            }
        }
        statistics.prefillSeconds += seconds(since: start)

        for (i, entry) in admitted.enumerated() {
            let prompt = prompts[entry.prompt]
            let promptStream = streams?[entry.prompt] ?? UInt64(entry.prompt)
            let promptSeed = Xoshiro256StarStar.streamSeed(parameters.seed, promptStream)
            for (sample, slot) in entry.slots.enumerated() {
                if slot != entry.slots[0] { cache.copy(slot: entry.slots[0], to: slot) }
                let sequence = Sequence(
                    promptIndex: entry.prompt, sampleIndex: sample, slot: slot, promptLength: prompt.count,
                    seen: parameters.sampling.repetitionPenalty != 1 ? Set(prompt) : [],
                    random: Xoshiro256StarStar(seed: promptSeed, stream: UInt64(sample)))
                running.append(sequence)
                try advance(running.count - 1, logitsRow: lastRows[i]![...])
            }
        }
        removeFinished(cache: cache)
    }

    /// Feeds each running sequence's newest token and samples the next one.
    private mutating func decodeStep(cache: KVCache) throws {
        let start = ContinuousClock.now
        let logits = try model.forward(tokens: running.map { [$0.tokens.last!] }, slots: running.map(\.slot),
                                       cache: cache, allPositions: false)
        try check(logits, rows: running.count)
        statistics.decodeForwards += 1
        statistics.largestDecodeBatch = max(statistics.largestDecodeBatch, running.count)
        for i in running.indices { try advance(i, logitsRow: logits[i]) }
        removeFinished(cache: cache)
        statistics.decodeSeconds += seconds(since: start)
    }

    /// Samples sequence i's next token from its logits row, applies the stop rules and streams the token.
    private mutating func advance(_ i: Int, logitsRow: ArraySlice<Float>) throws {
        let token = try sampler.sample(logits: logitsRow, previousTokens: running[i].seen, random: &running[i].random)
        running[i].tokens.append(token)
        if parameters.sampling.repetitionPenalty != 1 { running[i].seen.insert(token) }
        statistics.generatedTokens += 1
        let sequence = running[i]
        var reason: FinishReason?
        if parameters.stopTokenIds.contains(token) {
            reason = .stopToken
        } else if let decode, !stops.isEmpty, stops.firstMatch(in: decode(sequence.tokens)) != nil {
            reason = .stopString
        } else if sequence.tokens.count >= parameters.maxNewTokens {
            reason = .maxTokens
        } else if sequence.promptLength + sequence.tokens.count >= lengthLimit {
            reason = .contextFull
        }
        let index = sequence.promptIndex * group + sequence.sampleIndex
        onToken?(GeneratedToken(sequence: index, promptIndex: sequence.promptIndex, sampleIndex: sequence.sampleIndex,
                                tokenId: token, finishReason: reason))
        guard let reason else { return }
        var text: String?
        if let decode {
            let shown = reason == .stopToken ? Array(sequence.tokens.dropLast()) : sequence.tokens
            text = stops.truncate(decode(shown))
        }
        results[index] = Completion(promptIndex: sequence.promptIndex, sampleIndex: sequence.sampleIndex,
                                    tokenIds: sequence.tokens, finishReason: reason, text: text)
    }

    /// Drops finished sequences (those with a result) and frees their slots.
    private mutating func removeFinished(cache: KVCache) {
        var kept: [Sequence] = []
        for sequence in running {
            if results[sequence.promptIndex * group + sequence.sampleIndex] != nil {
                cache.reset(slot: sequence.slot)
                freeSlots.append(sequence.slot)
            } else {
                kept.append(sequence)
            }
        }
        running = kept
    }

    private func check(_ logits: Logits, rows: Int) throws {
        guard logits.rows == rows, logits.vocabularySize == model.vocabularySize else {
            throw GenerationError.unexpectedModelOutput(
                "\(logits.rows) logits rows of \(logits.vocabularySize) for \(rows) sequences of vocabulary \(model.vocabularySize)")
        }
    }

    private func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    }
}
