/// The closure-weighted backward (`backward(tokens:completionStart:…:weights:)`) for a group of G sequences that
/// begin with the same P tokens (a GRPO group: P = prompt length − 1), with the prefix run once instead of G times.
///
/// Sequence g is `prefix` (positions `0 ..< P`) followed by its segment `S_g` (positions `P ..< n_g`, `C_g = n_g − P`
/// tokens; its first token is the prompt's last one, so every scored row lies in the segment and the prefix gets no
/// head gradient). Causality makes the prefix's activations the same in every sequence, so:
///
/// Forward: the prefix `[P, hidden]` runs once through every layer (activations recorded, its keys K_l (after
/// RoPE) and values V_l `[P, KV·d]` left in the cache); then each segment runs with the cache holding the prefix,
/// its rows attending to the prefix's K_l, V_l and to its own.
///
/// Backward: the loss is `L = Σ_g L_g(prefix activations, S_g activations)`. Each segment's backward (head, then
/// layers L−1 … 0) is the ordinary one, except that at layer l its attention also yields `∂L_g/∂K_l`, `∂L_g/∂V_l`
/// `[P, KV·d]` for the prefix's cached keys and values, which are summed over the group:
///
///     dK_l = Σ_g ∂L_g/∂K_l,   dV_l = Σ_g ∂L_g/∂V_l              [P, KV·d] per layer l
///
/// The prefix's outputs feed nothing but later prefix rows and, through K_l and V_l, the segments. So after all
/// segments, one backward of the prefix from `dx = 0` at the top, where layer l adds dK_l and dV_l to its own rows'
/// key and value gradients (before the RoPE inverse and the k/v projections), gives exactly the prefix's part of
/// `∂L/∂x` and of every adapter gradient (the deltas accumulate over all calls). The adapter gradient equals the
/// unshared backward's up to fp32 summation order.
///
/// Memory: the prefix's layer inputs `[(L+1), P, hidden]` and activations (P rows of each layer's
/// `LayerActivations`) are the first rows of the workspace's buffers and the segment's are the rows after them, so
/// P + C_g ≤ the longest sequence fits the workspace of the unshared backward; dK, dV add `2·L·P·KV·d` floats.
extension TransformerModel {
    /// The groups of sequences whose backward can share a prefix: sequences with the same scored start s ≥ 2 and
    /// the same first s − 1 tokens, in order of their first member; every other sequence is a group of one.
    public static func sharedPromptGroups(tokens: [[Int]], completionStart: [Int]) -> [[Int]] {
        var groups: [[Int]] = []
        var index: [[Int]: Int] = [:]
        for (i, seq) in tokens.enumerated() {
            let s = completionStart[i]
            guard s >= 2, s <= seq.count else {
                groups.append([i])
                continue
            }
            let key = [s] + seq[0 ..< s - 1]
            if let g = index[key] {
                groups[g].append(i)
            } else {
                index[key] = groups.count
                groups.append([i])
            }
        }
        return groups
    }

    /// One group (see above): `members` index `tokens`, all starting with the same `prefixLength` = P ≥ 1 tokens and
    /// scored from position P + 1 on. `weightsFor(i, logps)` returns sequence i's checked weights, one per scored
    /// token. Returns the group's `Σ w·logp`.
    func sharedPrefixBackward(tokens: [[Int]], members: [Int], prefixLength p: Int, temperature: Float,
                              vocabularyChunk: Int, workspace w: BackwardWorkspace,
                              weightsFor: (Int, [Float]) throws -> [Float]) throws -> Double {
        let hidden = config.hiddenSize, kvDim = config.kvDim, layerCount = layers.count
        let prefix = Array(tokens[members[0]][0 ..< p])

        // Prefix forward, recording (rows 0 ..< P of the workspace).
        w.cache.reset(slot: 0)
        let prefixLayout = try BatchLayout(tokens: [prefix], slots: [0], cache: w.cache,
                                           vocabularySize: config.vocabularySize, contextLength: config.contextLength)
        let prefixInputs = w.inputs
        embed([prefix], into: prefixInputs)
        let prefixTables = RoPETables(rope: rope, positions: prefixLayout.positions)
        defer { prefixTables.deallocate() }
        recordLayers(inputs: prefixInputs, layout: prefixLayout, ropeTables: prefixTables,
                     activations: w.activations(layer:), workspace: w)

        // dK_l, dV_l `[P, KV·d]` per layer, summed over the segments.
        let kvGradient = UnsafeMutablePointer<Float>.allocate(capacity: 2 * layerCount * p * kvDim)
        kvGradient.initialize(repeating: 0, count: 2 * layerCount * p * kvDim)
        defer { kvGradient.deallocate() }
        func prefixGradient(layer l: Int) -> KeyValueGradient {
            KeyValueGradient(keys: kvGradient + 2 * l * p * kvDim, values: kvGradient + (2 * l + 1) * p * kvDim)
        }

        // Segments: rows from P on of the workspace's activations, inputs after the prefix's.
        let segmentActivations = (0 ..< layerCount).map {
            LayerActivations(rowsOf: w.activations(layer: $0), from: p, config: config)
        }
        let segmentInputs = w.inputs + (layerCount + 1) * p * hidden
        var loss = 0.0, prefixHasGradient = false
        for i in members {
            let segment = Array(tokens[i][(p)...])
            let c = segment.count
            w.cache.lengths[0] = p
            let layout = try BatchLayout(tokens: [segment], slots: [0], cache: w.cache,
                                         vocabularySize: config.vocabularySize, contextLength: config.contextLength)
            embed([segment], into: segmentInputs)
            let tables = RoPETables(rope: rope, positions: layout.positions)
            defer { tables.deallocate() }
            recordLayers(inputs: segmentInputs, layout: layout, ropeTables: tables,
                         activations: { segmentActivations[$0] }, workspace: w)
            // Segment row r (position P + r) predicts segment[r + 1]: rows 0 ..< C − 1 are the scored tokens.
            let final = segmentInputs + layerCount * c * hidden
            let rows = Array(0 ..< c - 1), targets = Array(segment.dropFirst())
            let logps = headLogProbabilities(final, rows: rows, targets: targets, temperature: temperature,
                                             chunk: vocabularyChunk, keepingLogitsIn: w.headLogits)
            let weights = try weightsFor(i, logps)
            guard weights.contains(where: { $0 != 0 }) else { continue }
            prefixHasGradient = true
            let dx = w.dx
            dx.update(repeating: 0, count: c * hidden)
            loss += headBackward(final, rows: rows, targets: targets, weights: weights, temperature: temperature,
                                 chunk: vocabularyChunk, reusingLogitsFrom: w.headLogits, addingTo: dx)
            backwardLayers(inputs: segmentInputs, layout: layout, ropeTables: tables,
                           activations: { segmentActivations[$0] }, gradient: dx, workspace: w,
                           sending: prefixGradient(layer:))
        }
        guard prefixHasGradient else { return loss }

        // Prefix backward, once: nothing reaches its top rows (weight 0), dK_l and dV_l join at each layer.
        let dx = w.dx
        dx.update(repeating: 0, count: p * hidden)
        backwardLayers(inputs: prefixInputs, layout: prefixLayout, ropeTables: prefixTables,
                       activations: w.activations(layer:), gradient: dx, workspace: w,
                       receiving: prefixGradient(layer:))
        return loss
    }
}
