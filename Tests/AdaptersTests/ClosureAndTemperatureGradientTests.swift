import Adapters
import Foundation
import Numerics
import Transformer
import XCTest

/// The backward at temperature T against finite differences, and the closure-weighted backward against the
/// fixed-weights one.
final class ClosureAndTemperatureGradientTests: XCTestCase {
    override class func setUp() { BLAS.useSingleThread() }

    static func adapter(bias: Bool) throws -> (TransformerModel, Adapter) {
        let (c, w) = try GradientTests.model(bias: bias)
        let model = try TransformerModel(config: c, weights: w, threads: 2)
        let plan = try AdapterPlan(configuration: .init(method: .tinyLoRA, rank: 2, u: 3, tying: .tiled(4)), model: c)
        let adapter = try Adapter(base: try FrozenBase.build(plan: plan, model: c, weights: w),
                                  parameters: Support.gaussian(plan.trainableParameterCount, seed: 4, std: 0.05))
        return (model, adapter)
    }

    /// `Σ w_t · log softmax(z/T)[token_{t+1}]` with the adapter attached, from `tokenLogProbabilities`.
    static func objective(_ adapter: Adapter, _ model: TransformerModel, temperature: Float) throws -> Double {
        try adapter.attach(to: model)
        defer { adapter.detach(from: model) }
        let logps = try model.tokenLogProbabilities(tokens: GradientTests.tokens, temperature: temperature)
        return zip(logps, GradientTests.weights).reduce(0.0) { total, pair in
            zip(pair.0, pair.1).reduce(total) { $0 + Double($1.0) * Double($1.1) }
        }
    }

    func testTemperatureGradientMatchesFiniteDifferences() throws {
        for bias in [true, false] {
            let (model, adapter) = try ClosureAndTemperatureGradientTests.adapter(bias: bias)
            let temperature: Float = 0.6
            let x0 = adapter.parameters
            let (loss, gradient) = try adapter.lossAndGradient(model: model, tokens: GradientTests.tokens,
                                                               weights: GradientTests.weights, temperature: temperature)
            XCTAssertEqual(loss, try ClosureAndTemperatureGradientTests.objective(adapter, model, temperature: temperature),
                           accuracy: 1e-4 * max(1, abs(loss)))
            let atOne = try adapter.lossAndGradient(model: model, tokens: GradientTests.tokens, weights: GradientTests.weights)
            XCTAssertGreaterThan(abs(atOne.loss - loss), 1e-2, "temperature must change the objective")

            func at(_ x: [Float]) throws -> Double {
                try adapter.setParameters(x)
                return try ClosureAndTemperatureGradientTests.objective(adapter, model, temperature: temperature)
            }
            /// Richardson-extrapolated central difference along d (error O(h⁴)).
            func derivative(along d: [Float], h: Float = 1e-2) throws -> Double {
                func central(_ s: Float) throws -> Double {
                    (try at(zip(x0, d).map { $0 + s * $1 }) - at(zip(x0, d).map { $0 - s * $1 })) / Double(2 * s)
                }
                return (4 * (try central(h / 2)) - (try central(h))) / 3
            }
            let norm = gradient.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
            XCTAssertGreaterThan(norm, 1e-2)
            for i in [0, 1, 2, 5, gradient.count - 1] {
                var unit = [Float](repeating: 0, count: x0.count)
                unit[i] = 1
                let fd = try derivative(along: unit)
                XCTAssertEqual(Double(gradient[i]), fd, accuracy: 1e-2 * norm, "bias \(bias) parameter \(i)")
            }
            let d = Support.gaussian(x0.count, seed: 31, std: 1 / Float(x0.count).squareRoot())
            let fd = try derivative(along: d)
            let analytic = zip(gradient, d).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
            XCTAssertEqual(analytic, fd, accuracy: 1e-2 * max(abs(fd), 0.1 * norm), "bias \(bias) directional")
            try adapter.setParameters(x0)
        }
    }

    /// The closure sees the adapter's log-probabilities of the scored tokens; returning the fixed weights gives the
    /// same loss and gradient; weights computed from the log-probabilities equal the fixed-weights backward with
    /// those weights.
    func testClosureEqualsFixedWeights() throws {
        let (model, adapter) = try ClosureAndTemperatureGradientTests.adapter(bias: true)
        let tokens = GradientTests.tokens, fixed = GradientTests.weights
        let temperature: Float = 0.8
        try adapter.attach(to: model)
        let expectedLogps = try model.tokenLogProbabilities(tokens: tokens, temperature: temperature)
        adapter.detach(from: model)

        var seen: [Int: [Float]] = [:]
        let viaClosure = try adapter.lossAndGradient(model: model, tokens: tokens, temperature: temperature) { i, logps in
            seen[i] = logps
            return fixed[i]
        }
        let direct = try adapter.lossAndGradient(model: model, tokens: tokens, weights: fixed, temperature: temperature)
        XCTAssertEqual(viaClosure.loss, direct.loss, accuracy: 1e-9 * abs(direct.loss))
        XCTAssertEqual(viaClosure.gradient, direct.gradient)
        for i in tokens.indices {
            XCTAssertEqual(seen[i]!.count, tokens[i].count - 1)
            for t in expectedLogps[i].indices { XCTAssertEqual(seen[i]![t], expectedLogps[i][t], accuracy: 1e-5) }
        }

        // Completion-only scoring with data-dependent weights (a PPO-like −A·e^(logp − old)).
        let starts = [5, 2]
        let derived: (Int, [Float]) -> [Float] = { i, logps in
            logps.enumerated().map { t, l in (i == 0 ? -1.5 : 0.7) * expf(l - (-4 + 0.1 * Float(t))) }
        }
        var weightsUsed: [[Float]] = []
        let closure = try adapter.lossAndGradient(model: model, tokens: tokens, completionStart: starts,
                                                  temperature: temperature) { i, logps in
            XCTAssertEqual(logps.count, tokens[i].count - starts[i])
            let w = derived(i, logps)
            weightsUsed.append([Float](repeating: 0, count: starts[i] - 1) + w)
            return w
        }
        let fixedAgain = try adapter.lossAndGradient(model: model, tokens: tokens, weights: weightsUsed,
                                                     temperature: temperature)
        XCTAssertEqual(closure.loss, fixedAgain.loss, accuracy: 1e-9 * abs(fixedAgain.loss))
        XCTAssertEqual(closure.gradient, fixedAgain.gradient)
        XCTAssertGreaterThan(closure.gradient.map(abs).max()!, 1e-3)

        XCTAssertThrowsError(try adapter.lossAndGradient(model: model, tokens: tokens) { _, logps in
            [Float](repeating: 1, count: logps.count + 1)
        }) { XCTAssertTrue("\($0)".contains("scored tokens")) }
        XCTAssertTrue(model.layers.allSatisfy { $0.q.delta == nil }, "hooks restored after a failing call")
    }

    /// Recomputing each layer's activations (over the memory budget) gives the same loss and gradient as keeping
    /// them (both paths are otherwise checked against finite differences above and in `GradientTests`).
    func testRecomputedActivationsEqualRecorded() throws {
        let (model, adapter) = try ClosureAndTemperatureGradientTests.adapter(bias: false)
        let kept = try adapter.lossAndGradient(model: model, tokens: GradientTests.tokens, weights: GradientTests.weights,
                                               temperature: 0.9)
        let budget = TransformerModel.recordedActivationBudget
        TransformerModel.recordedActivationBudget = 0
        defer { TransformerModel.recordedActivationBudget = budget }
        let recomputed = try adapter.lossAndGradient(model: model, tokens: GradientTests.tokens,
                                                     weights: GradientTests.weights, temperature: 0.9)
        XCTAssertEqual(kept.loss, recomputed.loss)
        XCTAssertEqual(kept.gradient, recomputed.gradient)
        XCTAssertGreaterThan(kept.gradient.map(abs).max()!, 1e-3)
    }
}
