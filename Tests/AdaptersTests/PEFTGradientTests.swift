import Adapters
import Foundation
import ModelFiles
import Numerics
import Transformer
import XCTest

/// The adapter gradient on the real SmolLM2-135M against PyTorch autograd through PEFT's TinyLoRA, with PEFT given
/// exactly our A, B, P and v (fixture `peft_gradient.json`, written by `Fixtures/make_peft_gradient.py`).
///
/// To regenerate: run this test with `TINYLORA_WRITE_PEFT_FACTORS=/tmp/smollm2-factors.safetensors` (it writes our
/// A, B, P and v there), then `python make_peft_gradient.py /tmp/smollm2-factors.safetensors` in the Fixtures folder.
final class PEFTGradientTests: XCTestCase {
    override class func setUp() { BLAS.useSingleThread() }

    static let configuration = AdapterConfiguration(method: .tinyLoRA, rank: 2, u: 2, tying: .ratio(0.9), seed: 11)

    struct Fixture: Decodable {
        let generator: String
        let weight_tying: Double
        let u: Int
        let r: Int
        let tokens: [[Int]]
        let weights: [[Float]]
        let v: [Float]
        let loss: Double
        let gradient: [Double]
        /// Σ over modules of Σ A, Σ B, Σ P as PEFT received them (float64 sums).
        let sum_a: Double
        let sum_b: Double
        let sum_p: Double
    }

    func testSmolLM2GradientMatchesPEFT() throws {
        let file = try GGUFFile(path: Support.modelPath("SmolLM2-135M-Instruct.Q4_1.gguf"))
        let config = try TransformerConfig(gguf: file)
        let weights = GGUFWeights(file: file, config: config)
        let model = try TransformerModel(config: config, weights: weights, threads: 2)
        let plan = try AdapterPlan(configuration: PEFTGradientTests.configuration, model: config)
        XCTAssertEqual(plan.groupCount, 21)
        let base = try FrozenBase.build(plan: plan, model: config, weights: weights)
        let v = Support.gaussian(plan.trainableParameterCount, seed: 21, std: 0.02)
        let adapter = try Adapter(base: base, parameters: v)
        if let out = ProcessInfo.processInfo.environment["TINYLORA_WRITE_PEFT_FACTORS"] {
            var writer = SafetensorsWriter(metadata: ["u": "\(plan.configuration.u)", "r": "\(plan.configuration.rank)"])
            for m in plan.modules {
                let f = base.factors[m.index], name = "\(m.layer).\(m.kind.huggingFaceName)"
                try writer.addTensor(name: name + ".A", shape: [2, m.inFeatures], values: f.a, as: .f32)
                try writer.addTensor(name: name + ".B", shape: [m.outFeatures, 2], values: f.b, as: .f32)
                try writer.addTensor(name: name + ".P", shape: [plan.configuration.u, 2, 2], values: adapter.projections[m.index],
                                     as: .f32)
                try writer.addTensor(name: name + ".group", shape: [1], values: [Float(plan.groupOfModule[m.index])], as: .f32)
            }
            try writer.addTensor(name: "v", shape: [plan.groupCount, plan.configuration.u], values: v, as: .f32)
            try writer.write(to: out)
            print("wrote our factors to \(out)")
        }

        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
            .appendingPathComponent("peft_gradient.json")
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        XCTAssertEqual(fixture.v, v, "the fixture was made with these trained values")
        XCTAssertEqual(fixture.u, plan.configuration.u)
        XCTAssertEqual(fixture.weight_tying, 0.9)
        // PEFT received our factors.
        var sums = (a: 0.0, b: 0.0, p: 0.0)
        for m in plan.modules {
            sums.a += base.factors[m.index].a.reduce(0.0) { $0 + Double($1) }
            sums.b += base.factors[m.index].b.reduce(0.0) { $0 + Double($1) }
            sums.p += adapter.projections[m.index].reduce(0.0) { $0 + Double($1) }
        }
        XCTAssertEqual(sums.a, fixture.sum_a, accuracy: 1e-6 * max(1, abs(sums.a)))
        XCTAssertEqual(sums.b, fixture.sum_b, accuracy: 1e-6 * max(1, abs(sums.b)))
        XCTAssertEqual(sums.p, fixture.sum_p, accuracy: 1e-6 * max(1, abs(sums.p)))

        let start = Date()
        let (loss, gradient) = try adapter.lossAndGradient(model: model, tokens: fixture.tokens, weights: fixture.weights)
        let seconds = Date().timeIntervalSince(start)
        let reference = fixture.gradient
        let norm = reference.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let difference = zip(gradient, reference).reduce(0.0) { $0 + (Double($1.0) - $1.1) * (Double($1.0) - $1.1) }.squareRoot()
        let worst = zip(gradient, reference).map { abs(Double($0) - $1) }.max()!
        print("SmolLM2 vs PEFT (\(fixture.generator)): loss \(loss) vs \(fixture.loss); |g| \(norm), "
            + "|g − g_peft| / |g_peft| = \(difference / norm), max component error \(worst); \(seconds) s")
        XCTAssertEqual(loss, fixture.loss, accuracy: 2e-5 * abs(fixture.loss))
        XCTAssertLessThan(difference / norm, 1e-4)
        XCTAssertLessThan(worst, 1e-4 * reference.map(abs).max()!)
    }
}
