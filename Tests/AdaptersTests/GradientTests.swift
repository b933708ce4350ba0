import Adapters
import Numerics
import Transformer
import XCTest

/// Adapter gradients from `Adapter.lossAndGradient` (the engine's backward) against central finite differences of
/// the engine's own forward, on tiny random models.
final class GradientTests: XCTestCase {
    override class func setUp() { BLAS.useSingleThread() }

    /// Tiny models: qwen2-like (GQA 4/2, q/k/v biases, tied head) and llama-like (MHA 4/4, no bias, untied head).
    static func model(bias: Bool, seed: UInt64 = 9) throws -> (TransformerConfig, InMemoryWeights) {
        let c = try TransformerConfig(architecture: bias ? .qwen2 : .llama, vocabularySize: 50, hiddenSize: 32,
                                      intermediateSize: 48, layerCount: 2, headCount: 4, kvHeadCount: bias ? 2 : 4,
                                      headDim: 8, rmsNormEpsilon: 1e-6, ropeTheta: 10000, contextLength: 64,
                                      tiedEmbeddings: bias, attentionBias: bias)
        var w = TinyModel.weights(c, seed: seed)
        if !c.tiedEmbeddings {
            w.tensors[.lmHead] = Support.gaussian(c.vocabularySize * c.hiddenSize, seed: seed, stream: 999, std: 0.5)
        }
        return (c, w)
    }

    static let tokens = [[3, 17, 5, 42, 8, 1, 9, 30, 2, 11, 4], [7, 7, 12, 40, 0]]
    /// One weight per predicted token, mixed signs and a zero (as GRPO advantages give).
    static let weights: [[Float]] = [[0.5, -1, 0.25, 1, 0, 0.75, -0.5, 1, 0.3, -0.2], [1, -0.6, 0.4, 0.9]]

    /// `Σ w_t · log p(token_{t+1})` from the engine's forward with the adapter attached, in Double.
    static func objective(_ adapter: Adapter, _ model: TransformerModel, tokens: [[Int]] = tokens,
                          weights: [[Float]] = weights) throws -> Double {
        try adapter.attach(to: model)
        defer { adapter.detach(from: model) }
        var total = 0.0
        for (seq, w) in zip(tokens, weights) {
            let logits = try model.forward(tokens: [seq], slots: [0], cache: model.makeCache(slots: 1, capacity: 32),
                                           allPositions: true)
            for t in 0 ..< seq.count - 1 {
                let row = logits[t].map(Double.init)
                let m = row.max()!
                let lse = m + log(row.reduce(0) { $0 + exp($1 - m) })
                total += Double(w[t]) * (row[seq[t + 1]] - lse)
            }
        }
        return total
    }

    /// Checks the analytic gradient against central differences on `indices` (step `h`), and along one random
    /// direction over all parameters; returns the worst relative error.
    @discardableResult
    static func checkFiniteDifferences(_ adapter: Adapter, _ model: TransformerModel, indices: [Int], h: Float,
                                       label: String) throws -> Double {
        let x0 = adapter.parameters
        let (loss, gradient) = try adapter.lossAndGradient(model: model, tokens: tokens, weights: weights)
        let reference = try objective(adapter, model)
        XCTAssertEqual(loss, reference, accuracy: 1e-5 * max(1, abs(reference)), "\(label): loss")
        func at(_ x: [Float]) throws -> Double {
            try adapter.setParameters(x)
            return try objective(adapter, model)
        }
        /// Central difference along `d` with Richardson extrapolation, `(4·D(h/2) − D(h))/3` (error O(h⁴)):
        /// tied adapters move many modules at once, so plain O(h²) differences at h = 1e-2 are too curved.
        func derivative(along d: [Float]) throws -> Double {
            func central(_ step: Float) throws -> Double {
                let plus = zip(x0, d).map { $0 + step * $1 }, minus = zip(x0, d).map { $0 - step * $1 }
                return (try at(plus) - at(minus)) / Double(2 * step)
            }
            return (4 * (try central(h / 2)) - (try central(h))) / 3
        }
        var fd: [Double] = [], analytic: [Double] = []
        for i in indices {
            var unit = [Float](repeating: 0, count: x0.count)
            unit[i] = 1
            fd.append(try derivative(along: unit))
            analytic.append(Double(gradient[i]))
        }
        // Directional derivative along a random direction d (norm ≈ 1) vs ⟨g, d⟩.
        let d = Support.gaussian(x0.count, seed: 77, std: 1 / Float(x0.count).squareRoot())
        let dirFD = try derivative(along: d)
        let dirAnalytic = zip(gradient, d).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        try adapter.setParameters(x0)

        let norm = max(fd.map { $0 * $0 }.reduce(0, +).squareRoot(), 1e-3)
        var worst = 0.0
        for k in fd.indices {
            let error = abs(fd[k] - analytic[k]) / norm
            worst = max(worst, error)
            XCTAssertLessThan(error, 1e-2, "\(label): parameter \(indices[k]) analytic \(analytic[k]) vs FD \(fd[k])")
        }
        let dirError = abs(dirFD - dirAnalytic) / max(abs(dirFD), 0.1 * norm)
        XCTAssertLessThan(dirError, 1e-2, "\(label): directional derivative \(dirAnalytic) vs FD \(dirFD)")
        XCTAssertGreaterThan(norm, 1e-2, "\(label): the gradient must not be trivially small")
        print("\(label): loss \(loss), |g| over checked \(norm), worst relative error \(worst), "
            + "directional \(dirAnalytic) vs \(dirFD) (rel \(dirError))")
        return max(worst, dirError)
    }

    func testTinyLoRAUntiedAndTied() throws {
        for bias in [true, false] {
            let (c, w) = try GradientTests.model(bias: bias)
            let model = try TransformerModel(config: c, weights: w, threads: 2)
            for tying in [Tying.none, .tiled(4), .all] {
                let plan = try AdapterPlan(configuration: .init(method: .tinyLoRA, rank: 2, u: 3, tying: tying), model: c)
                let base = try FrozenBase.build(plan: plan, model: c, weights: w)
                let adapter = try Adapter(base: base, parameters: Support.gaussian(plan.trainableParameterCount,
                                                                                    seed: 4, std: 0.05))
                let n = plan.trainableParameterCount
                let indices = n <= 12 ? Array(0 ..< n) : [0, 1, 2, n / 2, n - 2, n - 1, 5 * 3 + 1, 13 * 3]
                try GradientTests.checkFiniteDifferences(adapter, model, indices: indices, h: 1e-2,
                                                         label: "tinylora \(tying) bias \(bias)")
            }
        }
    }

    func testTinyLoRAAtZeroHasNonZeroGradient() throws {
        let (c, w) = try GradientTests.model(bias: true)
        let model = try TransformerModel(config: c, weights: w, threads: 2)
        let plan = try AdapterPlan(configuration: .init(method: .tinyLoRA, rank: 2, u: 13, tying: .all), model: c)
        let adapter = try Adapter(base: try FrozenBase.build(plan: plan, model: c, weights: w))
        try GradientTests.checkFiniteDifferences(adapter, model, indices: Array(0 ..< 13), h: 1e-2,
                                                 label: "tinylora u=13 tie all at v = 0")
    }

    func testLoRAXS() throws {
        for bias in [true, false] {
            let (c, w) = try GradientTests.model(bias: bias)
            let model = try TransformerModel(config: c, weights: w, threads: 2)
            let plan = try AdapterPlan(configuration: .init(method: .loraXS, rank: 3, tying: .structured(2)), model: c)
            let adapter = try Adapter(base: try FrozenBase.build(plan: plan, model: c, weights: w),
                                      parameters: Support.gaussian(plan.trainableParameterCount, seed: 6, std: 0.05))
            let n = plan.trainableParameterCount
            try GradientTests.checkFiniteDifferences(adapter, model, indices: [0, 4, 8, 9, 30, n / 2, n - 1], h: 1e-2,
                                                     label: "loraxs bias \(bias)")
        }
    }

    func testLoRA() throws {
        for bias in [true, false] {
            let (c, w) = try GradientTests.model(bias: bias)
            let model = try TransformerModel(config: c, weights: w, threads: 2)
            let plan = try AdapterPlan(configuration: .init(method: .lora, rank: 2, alpha: 4), model: c)
            // Non-zero B so that A has a gradient too.
            let adapter = try Adapter(base: try FrozenBase.build(plan: plan, model: c, weights: w),
                                      parameters: Support.gaussian(plan.trainableParameterCount, seed: 8, std: 0.1))
            var indices: [Int] = []
            for m in plan.modules where [0, 3, 6, 9, 11, 13].contains(m.index) {
                let start = plan.loraOffset(module: m.index), aCount = 2 * m.inFeatures
                indices += [start, start + aCount - 1, start + aCount, start + aCount + 2 * m.outFeatures - 1]
            }
            try GradientTests.checkFiniteDifferences(adapter, model, indices: indices, h: 1e-2,
                                                     label: "lora bias \(bias)")
        }
    }

    /// The gradient of a batch is the sum of the gradients of its sequences, and thread count does not matter.
    func testBatchOfTwoEqualsSumOfSingles() throws {
        let (c, w) = try GradientTests.model(bias: true)
        let model = try TransformerModel(config: c, weights: w, threads: 2)
        let plan = try AdapterPlan(configuration: .init(method: .loraXS, rank: 2, tying: .tiled(3)), model: c)
        let adapter = try Adapter(base: try FrozenBase.build(plan: plan, model: c, weights: w),
                                  parameters: Support.gaussian(plan.trainableParameterCount, seed: 1, std: 0.1))
        let t = GradientTests.tokens, wt = GradientTests.weights
        let both = try adapter.lossAndGradient(model: model, tokens: t, weights: wt)
        let first = try adapter.lossAndGradient(model: model, tokens: [t[0]], weights: [wt[0]])
        let second = try adapter.lossAndGradient(model: model, tokens: [t[1]], weights: [wt[1]])
        XCTAssertEqual(both.loss, first.loss + second.loss, accuracy: 1e-9 * abs(both.loss))
        let scale = both.gradient.map(abs).max()!
        for i in both.gradient.indices {
            XCTAssertEqual(both.gradient[i], first.gradient[i] + second.gradient[i], accuracy: 1e-5 * scale)
        }
        model.threads = 1
        let single = try adapter.lossAndGradient(model: model, tokens: t, weights: wt)
        for i in both.gradient.indices { XCTAssertEqual(both.gradient[i], single.gradient[i], accuracy: 1e-5 * scale) }
        XCTAssertTrue(model.layers.allSatisfy { $0.q.delta == nil }, "hooks restored after the call")
    }

    /// The head's row chunking changes nothing but memory; sequences whose weights are all zero contribute nothing.
    func testVocabularyChunkAndZeroWeights() throws {
        let (c, w) = try GradientTests.model(bias: false)
        let model = try TransformerModel(config: c, weights: w, threads: 2)
        let plan = try AdapterPlan(configuration: .init(method: .tinyLoRA, rank: 2, u: 4, tying: .tiled(5)), model: c)
        let adapter = try Adapter(base: try FrozenBase.build(plan: plan, model: c, weights: w),
                                  parameters: Support.gaussian(plan.trainableParameterCount, seed: 12, std: 0.05))
        let t = GradientTests.tokens, wt = GradientTests.weights
        let reference = try adapter.lossAndGradient(model: model, tokens: t, weights: wt, vocabularyChunk: 1000)
        let scale = reference.gradient.map(abs).max()!
        XCTAssertGreaterThan(scale, 1e-2)
        for chunk in [1, 3] {
            let other = try adapter.lossAndGradient(model: model, tokens: t, weights: wt, vocabularyChunk: chunk)
            // Chunks of 1, 3 and all 14 rows go through different matmul kernels (MatMul.kernel(rows:)), whose fp32
            // sums round differently: equal to float rounding, not bitwise.
            XCTAssertEqual(other.loss, reference.loss, accuracy: 1e-6 * abs(reference.loss))
            for i in other.gradient.indices {
                XCTAssertEqual(other.gradient[i], reference.gradient[i], accuracy: 1e-6 * scale, "chunk \(chunk)")
            }
        }
        let zero = try adapter.lossAndGradient(model: model, tokens: [t[0], t[1]],
                                               weights: [wt[0], [Float](repeating: 0, count: t[1].count - 1)])
        let first = try adapter.lossAndGradient(model: model, tokens: [t[0]], weights: [wt[0]])
        XCTAssertEqual(zero.loss, first.loss)
        XCTAssertEqual(zero.gradient, first.gradient)
    }

    func testBadInputIsRefused() throws {
        let (c, w) = try GradientTests.model(bias: true)
        let model = try TransformerModel(config: c, weights: w, threads: 1)
        XCTAssertThrowsError(try model.backward(tokens: [[1, 2, 3]], weights: [[1]])) {
            XCTAssertTrue("\($0)".contains("2 weights"))
        }
        XCTAssertThrowsError(try model.backward(tokens: [[1, 2]], weights: [[.nan]])) {
            XCTAssertTrue("\($0)".contains("not finite"))
        }
        XCTAssertThrowsError(try model.backward(tokens: [[1, 99]], weights: [[1]])) {
            XCTAssertTrue("\($0)".contains("outside the vocabulary"))
        }
        XCTAssertThrowsError(try model.backward(tokens: [[1]], weights: [])) {
            XCTAssertTrue("\($0)".contains("weight lists"))
        }
    }
}
