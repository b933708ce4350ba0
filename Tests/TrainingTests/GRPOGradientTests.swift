import Adapters
import Foundation
import Numerics
import Training
import Transformer
import XCTest

/// End to end on a tiny random model: the GRPO and SFT passes' gradients against central differences of the loss
/// computed from forward log-probabilities (`tokenLogProbabilities` + `GRPOLoss.compute` / `SFTLoss.loss`).
final class GRPOGradientTests: XCTestCase {
    override class func setUp() { BLAS.useSingleThread() }

    /// A qwen2-like model (GQA 4/2, biases, tied head) with Gaussian weights, and a TinyLoRA adapter on it.
    static func setup() throws -> (TransformerModel, Adapter) {
        let c = try TransformerConfig(architecture: .qwen2, vocabularySize: 40, hiddenSize: 32, intermediateSize: 48,
                                      layerCount: 2, headCount: 4, kvHeadCount: 2, headDim: 8, rmsNormEpsilon: 1e-6,
                                      ropeTheta: 10000, contextLength: 64, tiedEmbeddings: true, attentionBias: true)
        var tensors: [TensorName: [Float]] = [:]
        var stream: UInt64 = 0
        func add(_ name: TensorName, std: Float, offset: Float = 0) {
            stream += 1
            var rng = Xoshiro256StarStar(seed: 21, stream: stream)
            tensors[name] = rng.normalFloats(count: name.shape(c).reduce(1, *), standardDeviation: std).map { $0 + offset }
        }
        add(.embedding, std: 1)
        add(.finalNorm, std: 0.1, offset: 1)
        for l in 0 ..< c.layerCount {
            add(.layer(l, .inputNorm), std: 0.1, offset: 1)
            add(.layer(l, .postAttentionNorm), std: 0.1, offset: 1)
            for t: TensorName.LayerTensor in [.qWeight, .kWeight, .vWeight, .oWeight, .gateWeight, .upWeight, .downWeight] {
                add(.layer(l, t), std: 0.3)
            }
            for t: TensorName.LayerTensor in [.qBias, .kBias, .vBias] { add(.layer(l, t), std: 0.1) }
        }
        let weights = InMemoryWeights(tensors)
        let model = try TransformerModel(config: c, weights: weights, threads: 2)
        let plan = try AdapterPlan(configuration: .init(method: .tinyLoRA, rank: 2, u: 4, tying: .tiled(5)), model: c)
        var rng = Xoshiro256StarStar(seed: 5, stream: 0)
        let adapter = try Adapter(base: try FrozenBase.build(plan: plan, model: c, weights: weights),
                                  parameters: rng.normalFloats(count: plan.trainableParameterCount, standardDeviation: 0.02))
        return (model, adapter)
    }

    static let tokens: [[Int]] = [[1, 5, 9, 13, 2, 30, 31, 7, 7], [1, 5, 9, 13, 22, 3, 17], [4, 8, 15, 16, 23, 39, 0, 1],
                                  [4, 8, 15, 16, 11, 12]]
    static let starts = [4, 4, 5, 5]
    static let advantages: [Float] = [1.2, -0.8, 0, -1.1]
    static let masks: [[Bool]] = [[true, true, true, true, true], [true, true, false], [true, true, true],
                                  [true]]

    /// Completion log-probabilities with the adapter at `parameters` (nil: adapter off).
    static func logps(_ model: TransformerModel, _ adapter: Adapter, _ parameters: [Float]?, temperature: Float) throws
        -> [[Float]] {
        guard let parameters else {
            return try model.tokenLogProbabilities(tokens: tokens, completionStart: starts, temperature: temperature)
        }
        try adapter.setParameters(parameters)
        try adapter.attach(to: model)
        defer { adapter.detach(from: model) }
        return try model.tokenLogProbabilities(tokens: tokens, completionStart: starts, temperature: temperature)
    }

    func testGRPOPassMatchesFiniteDifferences() throws {
        let (model, adapter) = try GRPOGradientTests.setup()
        let x0 = adapter.parameters
        let temperature: Float = 0.9
        // The rollout policy: other parameters, so ratios differ from 1 (and some clip).
        var noise = Xoshiro256StarStar(seed: 8, stream: 0)
        let oldParameters = zip(x0, noise.normalFloats(count: x0.count, standardDeviation: 0.05)).map { $0 + $1 }
        let old = try GRPOGradientTests.logps(model, adapter, oldParameters, temperature: temperature)
        let reference = try GRPOGradientTests.logps(model, adapter, nil, temperature: temperature)
        for (beta, aggregation) in [(Float(0), LossAggregation.dapo), (0.05, .grpo), (0.05, .drGRPO)] {
            let c = GRPOLossConfiguration(epsilonLow: 0.2, epsilonHigh: 0.28, beta: beta, aggregation: aggregation,
                                          maxCompletionLength: 6)
            try adapter.setParameters(x0)
            let batch = GRPOBatch(tokens: GRPOGradientTests.tokens, completionStart: GRPOGradientTests.starts,
                                  advantages: GRPOGradientTests.advantages, masks: GRPOGradientTests.masks,
                                  oldLogps: old.map { $0 }, referenceLogps: reference)
            let pass = try GRPOLoss.lossAndGradient(adapter: adapter, model: model, batch: batch, temperature: temperature,
                                                    configuration: c)
            // Skipped exactly when its coefficients cannot be non-zero (advantage 0 with β = 0).
            XCTAssertEqual(pass.logps[2] == nil, beta == 0)
            func loss(_ x: [Float]) throws -> GRPOLossResult {
                let current = try GRPOGradientTests.logps(model, adapter, x, temperature: temperature)
                let sequences = current.indices.map { i in
                    GRPOSequence(logps: current[i], oldLogps: old[i], referenceLogps: reference[i],
                                 advantage: GRPOGradientTests.advantages[i], mask: GRPOGradientTests.masks[i])
                }
                return try GRPOLoss.compute(sequences, configuration: c)
            }
            let direct = try loss(x0)
            XCTAssertEqual(pass.result.loss, direct.loss, accuracy: 1e-5, "\(aggregation)")
            XCTAssertEqual(pass.result.activeTokens, direct.activeTokens)
            XCTAssertEqual(pass.result.clipRatioRegion, direct.clipRatioRegion)
            // Same tolerance as the log-probabilities below: the pass and the direct evaluation run their linear
            // layers at different row counts, hence different matmul kernels (fp32 rounding differs).
            XCTAssertEqual(pass.result.meanKL ?? -1, direct.meanKL ?? -1, accuracy: 1e-5)
            XCTAssertGreaterThan(direct.clipRatioRegion, 0, "the test must exercise clipping")
            print("\(aggregation): loss \(direct.loss), clip \(direct.clipRatioRegion), KL \(direct.meanKL ?? -1)")
            let current = try GRPOGradientTests.logps(model, adapter, x0, temperature: temperature)
            for i in [0, 1, 3] {
                for (a, e) in zip(try XCTUnwrap(pass.logps[i]), current[i]) { XCTAssertEqual(a, e, accuracy: 1e-5) }
            }
            try adapter.setParameters(x0)

            let norm = pass.gradient.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            XCTAssertGreaterThan(norm, 1e-3)
            var worst = 0.0
            for k in 0 ..< x0.count where k % 3 == 0 {
                var unit = [Float](repeating: 0, count: x0.count)
                unit[k] = 1
                func central(_ h: Float) throws -> Double {
                    (try loss(zip(x0, unit).map { $0 + h * $1 }).loss - loss(zip(x0, unit).map { $0 - h * $1 }).loss)
                        / Double(2 * h)
                }
                let fd = (4 * (try central(5e-4)) - (try central(1e-3))) / 3
                XCTAssertEqual(Double(pass.gradient[k]), fd, accuracy: 2e-2 * norm + 1e-4, "\(aggregation) parameter \(k)")
                worst = max(worst, abs(Double(pass.gradient[k]) - fd) / norm)
            }
            print("\(aggregation): |g| \(norm), worst |g_k − FD_k| / |g| \(worst)")
            try adapter.setParameters(x0)
        }
    }

    func testSFTPassMatchesFiniteDifferences() throws {
        let (model, adapter) = try GRPOGradientTests.setup()
        let x0 = adapter.parameters
        let masks = GRPOGradientTests.masks
        let pass = try SFTLoss.lossAndGradient(adapter: adapter, model: model, tokens: GRPOGradientTests.tokens,
                                               completionStart: GRPOGradientTests.starts, masks: masks)
        XCTAssertEqual(pass.tokens, 11)
        func loss(_ x: [Float]) throws -> Double {
            try SFTLoss.loss(logps: try GRPOGradientTests.logps(model, adapter, x, temperature: 1), masks: masks)
        }
        XCTAssertEqual(pass.loss, try loss(x0), accuracy: 1e-5)
        let norm = pass.gradient.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        XCTAssertGreaterThan(norm, 1e-3)
        for k in 0 ..< x0.count where k % 4 == 1 {
            var plus = x0, minus = x0
            plus[k] += 2e-3
            minus[k] -= 2e-3
            let fd = (try loss(plus) - loss(minus)) / Double(plus[k] - minus[k])
            XCTAssertEqual(Double(pass.gradient[k]), fd, accuracy: 2e-2 * norm + 1e-4, "parameter \(k)")
        }
        try adapter.setParameters(x0)
    }

    func testBadBatchIsRefused() throws {
        let (model, adapter) = try GRPOGradientTests.setup()
        var batch = GRPOBatch(tokens: GRPOGradientTests.tokens, completionStart: GRPOGradientTests.starts,
                              advantages: GRPOGradientTests.advantages, masks: GRPOGradientTests.masks)
        batch.masks[1] = [true]
        XCTAssertThrowsError(try GRPOLoss.lossAndGradient(adapter: adapter, model: model, batch: batch, temperature: 1,
                                                          configuration: .init())) {
            XCTAssertTrue("\($0)".contains("mask of 1"))
        }
        batch.masks = GRPOGradientTests.masks
        XCTAssertThrowsError(try GRPOLoss.lossAndGradient(adapter: adapter, model: model, batch: batch, temperature: 1,
                                                          configuration: .init(beta: 0.1))) {
            XCTAssertTrue("\($0)".contains("reference"))
        }
        // All advantages zero and β = 0: no model work, zero gradient, loss 0.
        batch.advantages = [0, 0, 0, 0]
        let idle = try GRPOLoss.lossAndGradient(adapter: adapter, model: model, batch: batch, temperature: 1,
                                                configuration: .init())
        XCTAssertEqual(idle.result.loss, 0)
        XCTAssertTrue(idle.gradient.allSatisfy { $0 == 0 })
        XCTAssertTrue(idle.logps.allSatisfy { $0 == nil })
    }
}
