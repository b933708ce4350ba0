import Foundation
import Training
import XCTest

/// AdamW, schedules, clipping and the SFT loss against hand-computed values.
final class OptimizerTests: XCTestCase {
    /// θ = [1, −1], g = [0.5, −2], η = 0.1, λ = 0.01, torch defaults otherwise. Step 1:
    /// θ·(1 − 0.001) = [0.999, −0.999]; m = 0.1·g; v = 0.001·g²; bias corrections 0.1 and 0.001, so
    /// the step is η·(m/0.1)/(√(v/0.001) + ε) = 0.1·g/(|g| + 1e-8) ≈ 0.1·sign(g): θ = [0.899, −0.899].
    func testAdamWFirstStep() throws {
        var adam = try AdamW(parameterCount: 2, weightDecay: 0.01)
        var theta: [Float] = [1, -1]
        try adam.update(&theta, gradient: [0.5, -2], learningRate: 0.1)
        XCTAssertEqual(theta[0], 0.899, accuracy: 1e-6)
        XCTAssertEqual(theta[1], -0.899, accuracy: 1e-6)
        XCTAssertEqual(adam.step, 1)
        XCTAssertEqual(adam.m[0], 0.05, accuracy: 1e-8)
        XCTAssertEqual(adam.v[1], 0.004, accuracy: 1e-9)
    }

    /// Second step with g₂ = [0.5, 1] written out in Double from the definitions.
    func testAdamWSecondStep() throws {
        var adam = try AdamW(parameterCount: 2, weightDecay: 0.01)
        var theta: [Float] = [1, -1]
        try adam.update(&theta, gradient: [0.5, -2], learningRate: 0.1)
        try adam.update(&theta, gradient: [0.5, 1], learningRate: 0.05)
        let g1 = [0.5, -2.0], g2 = [0.5, 1.0]
        for i in 0 ..< 2 {
            let m = 0.9 * (0.1 * g1[i]) + 0.1 * g2[i]
            let v = 0.999 * (0.001 * g1[i] * g1[i]) + 0.001 * g2[i] * g2[i]
            let start = [0.899, -0.899][i] * (1 - 0.05 * 0.01)
            let expected = start - (0.05 / (1 - 0.81)) * m / ((v / (1 - 0.999 * 0.999)).squareRoot() + 1e-8)
            XCTAssertEqual(Double(theta[i]), expected, accuracy: 2e-6, "parameter \(i)")
        }
        // The state round-trips through Codable (checkpoints).
        let data = try JSONEncoder().encode(adam)
        XCTAssertEqual(try JSONDecoder().decode(AdamW.self, from: data), adam)
    }

    func testAdamWRefusesBadInput() throws {
        var adam = try AdamW(parameterCount: 2)
        var theta: [Float] = [1, 2]
        XCTAssertThrowsError(try adam.update(&theta, gradient: [1], learningRate: 0.1))
        XCTAssertThrowsError(try adam.update(&theta, gradient: [1, .infinity], learningRate: 0.1)) {
            XCTAssertTrue("\($0)".contains("not finite"))
        }
        XCTAssertEqual(theta, [1, 2])
        XCTAssertEqual(adam.step, 0)
        XCTAssertThrowsError(try AdamW(parameterCount: 2, beta1: 1))
    }

    /// Cosine, peak 1e-3, W = 2, S = 10: s=0 → 0, s=1 → ½η, s=2 → η, s=4 → η·½(1 + cos(π/4)),
    /// s=6 → ½η (progress ½), s=10 → 0. Constant: 0, ½η, then η.
    func testSchedules() throws {
        let cosine = try LearningRateSchedule(shape: .cosine, peak: 1e-3, warmupSteps: 2, totalSteps: 10)
        let expected: [Int: Double] = [0: 0, 1: 0.5e-3, 2: 1e-3, 4: 1e-3 * 0.5 * (1 + cos(Double.pi / 4)), 6: 0.5e-3,
                                       10: 0]
        for (s, e) in expected { XCTAssertEqual(Double(cosine.learningRate(step: s)), e, accuracy: 1e-9, "step \(s)") }
        let constant = try LearningRateSchedule(shape: .constant, peak: 1e-3, warmupSteps: 2, totalSteps: 10)
        XCTAssertEqual((0 ..< 4).map { constant.learningRate(step: $0) }, [0, 0.5e-3, 1e-3, 1e-3])
        let noWarmup = try LearningRateSchedule(shape: .constant, peak: 2e-3, warmupSteps: 0, totalSteps: 10)
        XCTAssertEqual(noWarmup.learningRate(step: 0), 2e-3)
        // Ratio: ⌈10 · 0.15⌉ = 2 steps.
        XCTAssertEqual(try LearningRateSchedule(shape: .cosine, peak: 1, warmupRatio: 0.15, totalSteps: 10).warmupSteps, 2)
        XCTAssertThrowsError(try LearningRateSchedule(shape: .cosine, peak: 1, warmupSteps: 0, totalSteps: 0))
    }

    /// g = [3, 4]: norm 5; with max 1 it becomes g·1/(5 + 1e-6); with max 10 it is unchanged.
    func testGradientClipping() throws {
        var g: [Float] = [3, 4]
        XCTAssertEqual(try GradientClipping.clip(&g, maxNorm: 1), 5, accuracy: 1e-12)
        XCTAssertEqual(Double(g[0]), 3 / (5 + 1e-6), accuracy: 1e-7)
        XCTAssertEqual(Double(g[1]), 4 / (5 + 1e-6), accuracy: 1e-7)
        var h: [Float] = [3, 4]
        XCTAssertEqual(try GradientClipping.clip(&h, maxNorm: 10), 5, accuracy: 1e-12)
        XCTAssertEqual(h, [3, 4])
        var bad: [Float] = [.nan, 1]
        XCTAssertTrue(try GradientClipping.clip(&bad, maxNorm: 1).isNaN)
    }

    /// Masks [[off, on, on], [on]], logps [[−5, −1, −2], [−3]]: N = 3, loss = (1 + 2 + 3)/3 = 2, w = −1/3 on.
    func testSFTLoss() throws {
        let masks = [[false, true, true], [true]]
        XCTAssertEqual(try SFTLoss.loss(logps: [[-5, -1, -2], [-3]], masks: masks), 2, accuracy: 1e-12)
        let w = try SFTLoss.coefficients(masks: masks)
        XCTAssertEqual(w, [[0, -1 / Float(3), -1 / Float(3)], [-1 / Float(3)]])
        XCTAssertThrowsError(try SFTLoss.coefficients(masks: [[false]])) { XCTAssertTrue("\($0)".contains("no completion")) }
    }
}

extension OptimizerTests {
    /// A checkpointed state whose moments disagree in length is refused, not indexed out of range.
    func testAdamWRefusesInconsistentDecodedState() throws {
        let json = #"{"beta1":0.9,"beta2":0.999,"epsilon":1e-8,"weightDecay":0,"m":[0,0],"v":[0],"step":1}"#
        var adam = try JSONDecoder().decode(AdamW.self, from: Data(json.utf8))
        var theta: [Float] = [1, 2]
        XCTAssertThrowsError(try adam.update(&theta, gradient: [1, 1], learningRate: 0.1)) {
            XCTAssertTrue("\($0)".contains("inconsistent state"))
        }
    }
}
