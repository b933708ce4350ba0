import Adapters
import ModelFiles
import Numerics
import Transformer
import XCTest

/// The engine's adapter hook (`Linear.delta`): attached (unmerged) logits equal merged (W + ΔW) logits, and
/// detaching or unmerging restores the base logits bit for bit.
final class AttachTests: XCTestCase {
    override class func setUp() { BLAS.useSingleThread() }

    static func logits(_ model: TransformerModel, _ tokens: [[Int]]) throws -> [Float] {
        let cache = model.makeCache(slots: tokens.count, capacity: 32)
        return try model.forward(tokens: tokens, slots: Array(0 ..< tokens.count), cache: cache, allPositions: true).values
    }

    /// Runs base → attach → detach → merge → unmerge on `model` and checks the four claims; returns the largest
    /// |unmerged − merged| / max|merged| and the largest |adapted − base| (the adapter's visible effect).
    static func check(_ adapter: Adapter, _ model: TransformerModel, tokens: [[Int]], label: String,
                      tolerance: Float = 1e-5) throws -> (relative: Float, effect: Float) {
        let base = try logits(model, tokens)
        try adapter.attach(to: model)
        let unmerged = try logits(model, tokens)
        adapter.detach(from: model)
        let detached = try logits(model, tokens)
        XCTAssertEqual(detached.map(\.bitPattern), base.map(\.bitPattern), "\(label): detach restores the base")
        let kept = try adapter.merge(into: model)
        let merged = try logits(model, tokens)
        kept.unmerge(from: model)
        let unmergedBase = try logits(model, tokens)
        XCTAssertEqual(unmergedBase.map(\.bitPattern), base.map(\.bitPattern), "\(label): unmerge restores the base")
        let scale = merged.map(abs).max()!
        let relative = zip(unmerged, merged).map { abs($0 - $1) }.max()! / scale
        let effect = zip(unmerged, base).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(relative, tolerance, "\(label): unmerged vs merged")
        XCTAssertGreaterThan(effect, 1e-2 * scale, "\(label): the adapter must visibly change the logits")
        print("\(label): max |unmerged − merged| / max|logit| = \(relative), max effect \(effect), max|logit| \(scale)")
        return (relative, effect)
    }

    func testSyntheticAttachedEqualsMergedForEveryMethod() throws {
        for (configuration, std) in [(AdapterConfiguration(method: .tinyLoRA, u: 4, tying: .tiled(3)), Float(0.5)),
                                     (AdapterConfiguration(method: .tinyLoRA, u: 2, tying: .all), 0.7),
                                     (AdapterConfiguration(method: .loraXS, rank: 3, tying: .structured(2)), 0.5),
                                     (AdapterConfiguration(method: .lora, rank: 2, alpha: 6), 0.2)] {
            let (c, w, base) = try TinyModel.base(configuration)
            let model = try TransformerModel(config: c, weights: w, threads: 2)
            let adapter = try Adapter(base: base, parameters: Support.gaussian(base.plan.trainableParameterCount,
                                                                               seed: 5, std: std))
            _ = try AttachTests.check(adapter, model, tokens: [[3, 17, 5, 42, 8, 1, 9, 30, 2, 11], [7, 7, 12]],
                                      label: "\(configuration.method) \(configuration.tying)")
        }
    }

    func testAttachRefusesAnotherModelAndDetachLeavesOtherHooks() throws {
        let (c, w, base) = try TinyModel.base(.init(method: .tinyLoRA, u: 2, targets: [.q, .v]))
        let model = try TransformerModel(config: c, weights: w, threads: 1)
        let adapter = try Adapter(base: base, parameters: Support.gaussian(base.plan.trainableParameterCount, seed: 2))
        let other = try Adapter(base: base)
        try adapter.attach(to: model)
        XCTAssertTrue(model.layers[1].q.delta === adapter.deltas[2])
        XCTAssertNil(model.layers[1].k.delta)
        other.detach(from: model)  // not its hooks: left in place
        XCTAssertTrue(model.layers[1].q.delta === adapter.deltas[2])
        adapter.detach(from: model)
        XCTAssertTrue(model.layers.allSatisfy { $0.q.delta == nil && $0.v.delta == nil })

        var smaller = c
        smaller.layerCount = 2
        let small = try TransformerModel(config: smaller, weights: w, threads: 1)
        XCTAssertThrowsError(try adapter.attach(to: small)) { XCTAssertTrue("\($0)".contains("3 layers")) }
    }

    /// SmolLM2-135M (real weights): TinyLoRA u=13 tied and LoRA-XS r=2 untied, attached vs merged.
    func testSmolLM2AttachedEqualsMerged() throws {
        let file = try GGUFFile(path: Support.modelPath("SmolLM2-135M-Instruct.Q4_1.gguf"))
        let config = try TransformerConfig(gguf: file)
        let weights = GGUFWeights(file: file, config: config)
        let model = try TransformerModel(config: config, weights: weights, threads: 2)
        let plan = try AdapterPlan(configuration: .init(method: .tinyLoRA, rank: 2, u: 13, tying: .all, seed: 7),
                                   model: config)
        let base = try FrozenBase.build(plan: plan, model: config, weights: weights)
        let tokens = [[1, 504, 3458, 282, 4649, 314, 253, 1345, 28, 1701, 2063, 30, 1116, 504, 2960], [2, 19, 80]]
        let tiny = try Adapter(base: base, parameters: Support.gaussian(13, seed: 3, std: 0.02))
        // This adapter moves the logits by up to 25 (of 31): fp32 rounding of W + ΔW against the separate low-rank
        // path, carried through 30 layers, reaches ~1e-5 of the largest logit (9.1e-6 with libm's expf in SwiGLU,
        // 1.1e-5 with FastExp's); a wrong delta differs by 1e-2 or more.
        _ = try AttachTests.check(tiny, model, tokens: tokens, label: "SmolLM2 tinylora u=13 tie all", tolerance: 3e-5)

        let xsPlan = try AdapterPlan(configuration: .init(method: .loraXS, rank: 2), model: config)
        let xsBase = try FrozenBase(plan: xsPlan, factors: base.factors, fingerprint: base.fingerprint)
        let xs = try Adapter(base: xsBase, parameters: Support.gaussian(xsPlan.trainableParameterCount, seed: 4, std: 0.1))
        _ = try AttachTests.check(xs, model, tokens: tokens, label: "SmolLM2 loraxs r=2")
    }
}
