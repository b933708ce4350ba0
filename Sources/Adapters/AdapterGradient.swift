import Transformer

extension Adapter {
    /// The weighted log-likelihood `L = Σ_sequences Σ_t w_t · log p(token_{t+1} | tokens_{≤t})` of `model` with this
    /// adapter (attached for the call, unmerged; the model's hooks are restored afterwards) and its gradient
    /// `∂L/∂parameters`, laid out like `parameters`:
    /// - TinyLoRA: `∂L/∂v_g[i] = Σ_{m in group g} ⟨∂L/∂R_m, P_m[i]⟩` (Frobenius product, `R_m = Σᵢ v_g[i]·P_m[i]`).
    /// - LoRA-XS: `∂L/∂R_g = Σ_{m in group g} ∂L/∂R_m`.
    /// - LoRA: per module `∂L/∂A` `[r, in]` then `∂L/∂B` `[out, r]` (with `R = (α/r)·I` inside the backward).
    ///
    /// `weights[i]` has `tokens[i].count − 1` values: `w_t` weights the prediction of token t+1, whose
    /// log-probability is taken at `temperature` T (`log softmax(z/T)`, as TRL does for GRPO). The frozen base
    /// weights get no gradient (see `TransformerModel.backward`, which also explains `vocabularyChunk`).
    public func lossAndGradient(model: TransformerModel, tokens: [[Int]], weights: [[Float]], temperature: Float = 1,
                                vocabularyChunk: Int = 128) throws -> (loss: Double, gradient: [Float]) {
        try withAttached(to: model) {
            try model.backward(tokens: tokens, weights: weights, temperature: temperature,
                               vocabularyChunk: vocabularyChunk)
        }
    }

    /// As `lossAndGradient(model:tokens:weights:…)`, with the weights computed from the current per-token
    /// log-probabilities (see `TransformerModel.backward(tokens:completionStart:temperature:vocabularyChunk:weights:)`):
    /// `weights(i, logps)` gets the log-probabilities (at temperature T, adapter on) of tokens
    /// `completionStart[i] ..< count` of sequence i and returns one weight per token. With w = ∂loss/∂logp (e.g.
    /// `GRPOLoss` coefficients) the gradient is ∂loss/∂parameters. `sharingPrompts`: sequences with the same prompt
    /// share its forward and backward (exact; see the model's `backward`).
    public func lossAndGradient(model: TransformerModel, tokens: [[Int]], completionStart: [Int]? = nil,
                                temperature: Float = 1, vocabularyChunk: Int = 128, sharingPrompts: Bool = true,
                                weights: (_ sequence: Int, _ logps: [Float]) throws -> [Float]) throws
        -> (loss: Double, gradient: [Float]) {
        try withAttached(to: model) {
            try model.backward(tokens: tokens, completionStart: completionStart, temperature: temperature,
                               vocabularyChunk: vocabularyChunk, sharingPrompts: sharingPrompts, weights: weights)
        }
    }

    /// Zeroes the deltas' gradients, attaches them to `model`, runs `body` (a backward), restores the model's
    /// previous hooks and returns body's value with the collected gradient.
    private func withAttached(to model: TransformerModel, _ body: () throws -> Double) throws
        -> (loss: Double, gradient: [Float]) {
        try checkShapes(model)
        let previous = plan.modules.map { Adapter.linear(model, $0).delta }
        let trainsFactors = plan.configuration.method == .lora
        for d in deltas {
            d.trainsFactors = trainsFactors
            d.zeroGradients()
        }
        try attach(to: model)
        defer { for (m, d) in zip(plan.modules, previous) { Adapter.linear(model, m).delta = d } }
        let loss = try body()
        return (loss, collectGradient())
    }

    /// Sums the deltas' accumulated gradients into the layout of `parameters` (see `lossAndGradient`).
    func collectGradient() -> [Float] {
        let c = plan.configuration
        let r2 = c.rank * c.rank
        var gradient = [Float](repeating: 0, count: plan.trainableParameterCount)
        for m in plan.modules {
            let d = deltas[m.index], g = plan.groupOfModule[m.index]
            switch c.method {
            case .tinyLoRA:
                let p = projections[m.index]
                for i in 0 ..< c.u {
                    var s: Float = 0
                    for e in 0 ..< r2 { s += d.gradR[e] * p[i * r2 + e] }
                    gradient[g * c.u + i] += s
                }
            case .loraXS:
                for e in 0 ..< r2 { gradient[g * r2 + e] += d.gradR[e] }
            case .lora:
                let start = plan.loraOffset(module: m.index)
                for (i, x) in d.gradA.enumerated() { gradient[start + i] = x }
                for (i, x) in d.gradB.enumerated() { gradient[start + d.gradA.count + i] = x }
            }
        }
        return gradient
    }
}
