import Foundation
import Numerics

extension TransformerModel {
    /// Bytes of per-layer activations a sequence's backward may keep from its forward (1.5 GB: ~1100 tokens on
    /// Qwen2.5-0.5B); longer sequences recompute each layer's activations instead (slower, same result).
    nonisolated(unsafe) public static var recordedActivationBudget = 1_500_000_000
    /// Bytes of head logits a backward keeps between its log-probabilities and its head backward (see
    /// `HeadLogitsStore`); rows beyond it are recomputed.
    nonisolated(unsafe) public static var headLogitsBudget = 512 << 20

    /// The weighted log-likelihood of whole sequences at temperature T and its backward pass to every `LinearDelta`
    /// hooked into the model (their parameter gradients accumulate; frozen weights, norms and embeddings get no
    /// gradient):
    ///
    ///     L = Σ_sequences Σ_{t < T−1} w_t · log softmax(z_t / T)[token_{t+1}]      (z_t: logits at position t)
    ///
    /// `weights[i]` holds `tokens[i].count − 1` finite values (`w_t` weights the prediction of token t+1; rows with
    /// w_t = 0 cost nothing in the head). Each sequence runs alone from position 0 (its own temporary cache).
    ///
    /// Memory: the input `[T, hidden]` of every layer is saved during the forward, and so are the activations each
    /// layer's backward needs (`LayerActivations`, ~57 KB per token per layer on Qwen2.5-0.5B) while their total
    /// stays within `recordedActivationBudget`; beyond it each layer's are recomputed before its backward. The head (see `LanguageModelHead.swift`: `dz_j = (w_t/T)·(1[j = target]
    /// − softmax_j(z/T))`) runs `vocabularyChunk` rows at a time, so no `[T, vocab]` matrix is ever held. Returns L
    /// (summed in Double).
    public func backward(tokens: [[Int]], weights: [[Float]], temperature: Float = 1, vocabularyChunk: Int = 128) throws
        -> Double {
        guard tokens.count == weights.count else {
            throw TransformerError("backward: \(tokens.count) sequences but \(weights.count) weight lists")
        }
        try checkBackwardArguments(tokens: tokens, temperature: temperature, vocabularyChunk: vocabularyChunk)
        for (i, (seq, w)) in zip(tokens, weights).enumerated() {
            guard w.count == seq.count - 1 else {
                throw TransformerError("backward: sequence \(i) has \(seq.count) tokens, so \(seq.count - 1) weights, "
                    + "not \(w.count)")
            }
            if let bad = w.firstIndex(where: { !$0.isFinite }) {
                throw TransformerError("backward: weight \(bad) of sequence \(i) is not finite")
            }
        }
        let used = zip(tokens, weights).filter { $0.1.contains(where: { $0 != 0 }) }
        guard let longest = used.map(\.0.count).max() else { return 0 }
        let workspace = BackwardWorkspace(model: self, rows: longest)
        var loss = 0.0
        for (seq, w) in used {
            loss += try sequenceBackward(seq, temperature: temperature, vocabularyChunk: vocabularyChunk,
                                         firstScored: nil, workspace: workspace) { _ in w }
        }
        return loss
    }

    /// The same backward with weights computed from the current log-probabilities, so one forward serves both
    /// (e.g. PPO importance ratios and the loss's per-token derivative):
    ///
    ///     logp_t = log softmax(z_{t−1} / T)[token_t]    for t in start ..< count   (start = completionStart[i], ≥ 1)
    ///     w      = weights(i, logp)                      (count − start values, one per scored token)
    ///     L      = Σ_i Σ_t w_t · logp_t,   backward as `backward(tokens:weights:temperature:vocabularyChunk:)`
    ///
    /// For each sequence: the forward runs, the head computes `logp` for the scored tokens (chunked), the closure is
    /// called (once per sequence; the order is unspecified), then the head and layer backward run with its weights
    /// (tokens before `start` get weight 0). `completionStart` nil scores every token after the first (start 1,
    /// `count − 1` values). Returns L.
    ///
    /// With `sharingPrompts` (the default), sequences with the same start s ≥ 2 and the same first s − 1 tokens
    /// (e.g. a GRPO group: one prompt, G completions) share those tokens' forward and backward exactly: see
    /// `TransformerModel+SharedPrefixBackward.swift`. The result equals the unshared one up to fp32 summation order.
    public func backward(tokens: [[Int]], completionStart: [Int]? = nil, temperature: Float = 1,
                         vocabularyChunk: Int = 128, sharingPrompts: Bool = true,
                         weights: (_ sequence: Int, _ logps: [Float]) throws -> [Float]) throws -> Double {
        try checkBackwardArguments(tokens: tokens, temperature: temperature, vocabularyChunk: vocabularyChunk)
        let starts = try TransformerModel.scoredStarts(tokens: tokens, completionStart: completionStart, caller: "backward")
        guard let longest = tokens.map(\.count).max() else { return 0 }
        /// The closure's weights for sequence i, checked.
        func checkedWeights(_ i: Int, _ logps: [Float]) throws -> [Float] {
            let w = try weights(i, logps)
            guard w.count == logps.count else {
                throw TransformerError("backward: the weights of sequence \(i) have \(w.count) values for "
                    + "\(logps.count) scored tokens")
            }
            if let bad = w.firstIndex(where: { !$0.isFinite }) {
                throw TransformerError("backward: weight \(bad) of sequence \(i) is not finite")
            }
            return w
        }
        let groups = sharingPrompts ? TransformerModel.sharedPromptGroups(tokens: tokens, completionStart: starts)
            : tokens.indices.map { [$0] }
        let workspace = BackwardWorkspace(model: self, rows: longest)
        var loss = 0.0
        for group in groups {
            if group.count >= 2 {
                loss += try sharedPrefixBackward(tokens: tokens, members: group, prefixLength: starts[group[0]] - 1,
                                                 temperature: temperature, vocabularyChunk: vocabularyChunk,
                                                 workspace: workspace, weightsFor: checkedWeights)
                continue
            }
            let i = group[0]
            loss += try sequenceBackward(tokens[i], temperature: temperature, vocabularyChunk: vocabularyChunk,
                                         firstScored: starts[i], workspace: workspace) { logps in
                [Float](repeating: 0, count: starts[i] - 1) + (try checkedWeights(i, logps))
            }
        }
        return loss
    }

    func checkBackwardArguments(tokens: [[Int]], temperature: Float, vocabularyChunk: Int) throws {
        guard vocabularyChunk >= 1 else { throw TransformerError("backward: vocabulary chunk must be ≥ 1") }
        guard temperature.isFinite, temperature > 0 else {
            throw TransformerError("backward: temperature must be finite and > 0, not \(temperature)")
        }
        for (i, seq) in tokens.enumerated() where seq.isEmpty {
            throw TransformerError("backward: sequence \(i) has no tokens")
        }
    }

    /// Per sequence, the first scored token index (default 1), checked to lie in `1 ..< count` (or equal count:
    /// nothing scored).
    static func scoredStarts(tokens: [[Int]], completionStart: [Int]?, caller: String) throws -> [Int] {
        guard let completionStart else { return tokens.map { _ in 1 } }
        guard completionStart.count == tokens.count else {
            throw TransformerError("\(caller): \(tokens.count) sequences but \(completionStart.count) completion starts")
        }
        for (i, (s, seq)) in zip(completionStart, tokens).enumerated() where s < 1 || s > seq.count {
            throw TransformerError("\(caller): completion start \(s) of sequence \(i) is outside 1 ... \(seq.count)")
        }
        return completionStart
    }

    /// One sequence: forward (saving each layer's input and, within the budget, its activations),
    /// `weightsFor(logps of tokens[firstScored...])` → `count − 1` weights, head backward, layer backward. With
    /// `firstScored` nil (fixed weights) no log-probability is computed and `weightsFor` receives an empty array.
    private func sequenceBackward(_ tokens: [Int], temperature: Float, vocabularyChunk: Int, firstScored: Int?,
                                  workspace w: BackwardWorkspace,
                                  weightsFor: ([Float]) throws -> [Float]) throws -> Double {
        let t = tokens.count, hidden = config.hiddenSize
        w.cache.reset(slot: 0)
        let layout = try BatchLayout(tokens: [tokens], slots: [0], cache: w.cache, vocabularySize: config.vocabularySize,
                                     contextLength: config.contextLength)
        let layerCount = layers.count
        // inputs[l] = input of layer l; inputs[L] = final hidden state.
        let inputs = w.inputs
        embed([tokens], into: inputs)
        let tables = RoPETables(rope: rope, positions: layout.positions)
        defer { tables.deallocate() }
        recordLayers(inputs: inputs, layout: layout, ropeTables: tables, activations: w.activations(layer:), workspace: w)

        let final = inputs + layerCount * t * hidden
        var logps: [Float] = []
        if let firstScored {
            let scoredRows = Array(firstScored - 1 ..< t - 1)
            logps = headLogProbabilities(final, rows: scoredRows, targets: scoredRows.map { tokens[$0 + 1] },
                                         temperature: temperature, chunk: vocabularyChunk,
                                         keepingLogitsIn: w.headLogits)
        }
        let weights = try weightsFor(logps)
        guard weights.contains(where: { $0 != 0 }) else { return 0 }
        let dx = w.dx
        dx.update(repeating: 0, count: t * hidden)
        let loss = headBackward(final, rows: Array(0 ..< t - 1), targets: Array(tokens.dropFirst()), weights: weights,
                                temperature: temperature, chunk: vocabularyChunk,
                                reusingLogitsFrom: firstScored == nil ? nil : w.headLogits, addingTo: dx)
        backwardLayers(inputs: inputs, layout: layout, ropeTables: tables, activations: w.activations(layer:),
                       gradient: dx, workspace: w)
        return loss
    }

    /// Runs the `T = layout.tokenCount` rows at `inputs` (`[T, hidden]`, layer 0's input) through every layer,
    /// recording: layer l's input stays at `inputs + l·T·hidden` (the final hidden state at `inputs + L·T·hidden`) and
    /// its activations go to `activations(l)`. With every layer's activations kept (`w.recordsAll`) the backward
    /// uses them; otherwise one buffer is reused and `backwardLayers` recomputes each layer's from its saved input.
    func recordLayers(inputs: UnsafeMutablePointer<Float>, layout: BatchLayout, ropeTables tables: RoPETables,
                      activations: (Int) -> LayerActivations, workspace w: BackwardWorkspace) {
        let t = layout.tokenCount, hidden = config.hiddenSize
        for (l, layer) in layers.enumerated() {
            let x = inputs + (l + 1) * t * hidden
            x.update(from: inputs + l * t * hidden, count: t * hidden)
            layer.forwardRecording(x, layout: layout, cache: w.cache, layer: l, config: config, rope: rope,
                                   ropeTables: tables, into: activations(l), scratch: w.recordingScratch,
                                   threads: threads)
        }
    }

    /// Back-propagates `dx` (`[T, hidden]`, the gradient at the final hidden state; overwritten with the gradient at
    /// each layer's input) through layers L−1 … 0 of rows recorded by `recordLayers`, recomputing a layer's
    /// activations first when the workspace does not keep them all. `sending(l)` / `receiving(l)` pass layer l's
    /// prefix key/value gradients (see `DecoderLayer.backward`); nil for a sequence of its own.
    func backwardLayers(inputs: UnsafeMutablePointer<Float>, layout: BatchLayout, ropeTables tables: RoPETables,
                        activations: (Int) -> LayerActivations, gradient dx: UnsafeMutablePointer<Float>,
                        workspace w: BackwardWorkspace, sending: ((Int) -> KeyValueGradient)? = nil,
                        receiving: ((Int) -> KeyValueGradient)? = nil) {
        let t = layout.tokenCount, hidden = config.hiddenSize
        for l in stride(from: layers.count - 1, through: 0, by: -1) {
            let input = inputs + l * t * hidden
            let a = activations(l)
            if !w.recordsAll {
                // Recompute (rewriting these rows' keys and values in the cache with the same values).
                w.layerInput.update(from: input, count: t * hidden)
                layers[l].forwardRecording(w.layerInput, layout: layout, cache: w.cache, layer: l, config: config,
                                           rope: rope, ropeTables: tables, into: a, scratch: w.recordingScratch,
                                           threads: threads)
            }
            layers[l].backward(recorded: a, input: input, gradient: dx, layout: layout, cache: w.cache, layer: l,
                               config: config, ropeTables: tables, scratch: w.backwardScratch, threads: threads,
                               sendingPrefixGradientTo: sending?(l), receivingGradient: receiving?(l))
        }
    }
}

/// Buffers of a backward call, sized for its longest sequence and reused by every sequence (fresh allocations per
/// sequence cost page faults): the layer inputs `[(L+1), T, hidden]`, `dx` `[T, hidden]`, the cache, scratch, and
/// either every layer's `LayerActivations` (when they fit `TransformerModel.recordedActivationBudget`) or one. The
/// shared-prefix backward puts a group's prefix in the first P rows of these buffers and each completion's segment
/// in the rows after them (P + segment ≤ the longest sequence).
final class BackwardWorkspace {
    let recordsAll: Bool
    let cache: KVCache
    let inputs, dx, layerInput: UnsafeMutablePointer<Float>
    let recordingScratch: RecordingScratch
    let backwardScratch: BackwardScratch
    /// The head's logits of the scored rows, kept from the log-probabilities for the head backward.
    let headLogits: HeadLogitsStore
    private let kept: [LayerActivations]

    init(model: TransformerModel, rows t: Int) {
        let c = model.config, layers = c.layerCount
        recordsAll = layers * t * LayerActivations.bytesPerRow(c) <= TransformerModel.recordedActivationBudget
        cache = model.makeCache(slots: 1, capacity: t, storage: .fp32)  // the backward reads it as fp32
        inputs = .allocate(capacity: (layers + 1) * t * c.hiddenSize)
        dx = .allocate(capacity: t * c.hiddenSize)
        layerInput = .allocate(capacity: t * c.hiddenSize)
        recordingScratch = RecordingScratch(rows: t, config: c)
        backwardScratch = BackwardScratch(rows: t, config: c)
        headLogits = HeadLogitsStore(vocabularySize: c.vocabularySize, rows: t,
                                     budgetBytes: TransformerModel.headLogitsBudget)
        kept = (0 ..< (recordsAll ? layers : 1)).map { _ in LayerActivations(rows: t, config: c) }
    }

    func activations(layer: Int) -> LayerActivations { recordsAll ? kept[layer] : kept[0] }

    deinit {
        for p in [inputs, dx, layerInput] { p.deallocate() }
    }
}
