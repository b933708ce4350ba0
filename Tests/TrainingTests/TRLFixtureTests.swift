import Foundation
import Training
import XCTest

/// The GRPO loss, its coefficients and metrics, advantages, AdamW and the schedules against TRL / torch /
/// transformers themselves (Fixtures/trl_fixture.json, written by Fixtures/make_trl_fixture.py).
final class TRLFixtureTests: XCTestCase {
    static func fixture() throws -> [String: Any] {
        let folder = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        let data = try Data(contentsOf: folder.appendingPathComponent("trl_fixture.json"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    static func matrix(_ value: Any?) throws -> [[Double]] { try XCTUnwrap(value as? [[Double]]) }
    static func vector(_ value: Any?) throws -> [Double] { try XCTUnwrap(value as? [Double]) }

    func testGRPOLossMatchesTRL() throws {
        let f = try TRLFixtureTests.fixture()
        let logps = try TRLFixtureTests.matrix(f["logps"]), old = try TRLFixtureTests.matrix(f["old_logps"])
        let ref = try TRLFixtureTests.matrix(f["ref_logps"]), mask = try TRLFixtureTests.matrix(f["mask"])
        let advantages = try TRLFixtureTests.vector(f["advantages"])
        let cases = try XCTUnwrap(f["cases"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 15)
        for c in cases {
            let lossType = try XCTUnwrap(c["loss_type"] as? String)
            let beta = try XCTUnwrap(c["beta"] as? Double), firstPass = try XCTUnwrap(c["first_pass"] as? Bool)
            let delta = c["delta"] as? Double
            let label = "\(lossType) β \(beta) δ \(String(describing: delta)) first pass \(firstPass)"
            let configuration = GRPOLossConfiguration(
                epsilonLow: Float(try XCTUnwrap(f["epsilon_low"] as? Double)),
                epsilonHigh: Float(try XCTUnwrap(f["epsilon_high"] as? Double)), beta: Float(beta),
                aggregation: try XCTUnwrap(LossAggregation(rawValue: lossType)), importanceRatioCap: delta.map(Float.init),
                maxCompletionLength: try XCTUnwrap(f["max_completion_length"] as? Int))
            let batch = logps.indices.map { i in
                GRPOSequence(logps: logps[i].map(Float.init), oldLogps: firstPass ? nil : old[i].map(Float.init),
                             referenceLogps: ref[i].map(Float.init), advantage: Float(advantages[i]),
                             mask: mask[i].map { $0 != 0 })
            }
            let result = try GRPOLoss.compute(batch, configuration: configuration)
            XCTAssertEqual(result.loss, try XCTUnwrap(c["loss"] as? Double), accuracy: 1e-5, label)
            let coefficients = try TRLFixtureTests.matrix(c["coefficients"])
            for i in coefficients.indices {
                for t in coefficients[i].indices {
                    XCTAssertEqual(Double(result.coefficients[i][t]), coefficients[i][t], accuracy: 2e-6,
                                   "\(label): completion \(i) token \(t)")
                }
            }
            XCTAssertEqual(result.clipRatioLow, try XCTUnwrap(c["clip_low"] as? Double), accuracy: 1e-9, label)
            XCTAssertEqual(result.clipRatioHigh, try XCTUnwrap(c["clip_high"] as? Double), accuracy: 1e-9, label)
            XCTAssertEqual(result.clipRatioRegion, try XCTUnwrap(c["clip_region"] as? Double), accuracy: 1e-9, label)
            if let kl = c["kl"] as? Double {
                XCTAssertEqual(try XCTUnwrap(result.meanKL), kl, accuracy: 1e-6, label)
            } else {
                XCTAssertNil(result.meanKL, label)
            }
        }
        // The fixture exercises both clip sides and the cap (otherwise it could not catch their mistakes).
        XCTAssertTrue(cases.contains { ($0["clip_low"] as? Double ?? 0) > 0 })
        XCTAssertTrue(cases.contains { ($0["clip_high"] as? Double ?? 0) > 0 })
        XCTAssertNotEqual(cases[0]["loss"] as? Double, cases[1]["loss"] as? Double, "δ must change the loss")
    }

    func testAdvantagesMatchTRL() throws {
        let f = try XCTUnwrap(try TRLFixtureTests.fixture()["advantage_cases"] as? [String: Any])
        let rewards = try TRLFixtureTests.vector(f["rewards"]).map(Float.init)
        let g = try XCTUnwrap(f["group_size"] as? Int)
        for scaling in RewardScaling.allCases {
            let expected = try TRLFixtureTests.vector(f[scaling.rawValue])
            let a = try Advantages(rewards: rewards, groupSize: g, scaling: scaling)
            for (x, e) in zip(a.values, expected) { XCTAssertEqual(Double(x), e, accuracy: 1e-5, "\(scaling)") }
        }
        let zero = try XCTUnwrap(f["zero_std_groups"] as? [Bool])
        let a = try Advantages(rewards: rewards, groupSize: g)
        XCTAssertEqual(a.zeroSpreadFraction, Double(zero.filter { $0 }.count) / Double(zero.count))
    }

    func testAdamWMatchesTorch() throws {
        let f = try XCTUnwrap(try TRLFixtureTests.fixture()["adamw"] as? [String: Any])
        var theta = try TRLFixtureTests.vector(f["initial"]).map(Float.init)
        let gradients = try TRLFixtureTests.matrix(f["gradients"]), after = try TRLFixtureTests.matrix(f["after"])
        var adam = try AdamW(parameterCount: theta.count, weightDecay: try XCTUnwrap(f["weight_decay"] as? Double))
        let lr = Float(try XCTUnwrap(f["lr"] as? Double))
        for (step, g) in gradients.enumerated() {
            try adam.update(&theta, gradient: g.map(Float.init), learningRate: lr)
            for i in theta.indices {
                XCTAssertEqual(Double(theta[i]), after[step][i], accuracy: 1e-6, "step \(step + 1) parameter \(i)")
            }
        }
    }

    func testSchedulesMatchTransformers() throws {
        let f = try XCTUnwrap(try TRLFixtureTests.fixture()["schedules"] as? [String: Any])
        let peak = Float(try XCTUnwrap(f["peak"] as? Double))
        let warmup = try XCTUnwrap(f["warmup"] as? Int), total = try XCTUnwrap(f["total"] as? Int)
        for shape in LearningRateSchedule.Shape.allCases {
            let schedule = try LearningRateSchedule(shape: shape, peak: peak, warmupSteps: warmup, totalSteps: total)
            let expected = try TRLFixtureTests.vector(f[shape.rawValue])
            for (s, e) in expected.enumerated() {
                XCTAssertEqual(Double(schedule.learningRate(step: s)), e, accuracy: 1e-9, "\(shape) step \(s)")
            }
        }
    }
}
