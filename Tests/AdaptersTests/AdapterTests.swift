import Adapters
import Numerics
import Transformer
import XCTest

/// A tiny random model in memory, adapters on it, merge and unmerge.
enum TinyModel {
    static func config() -> TransformerConfig {
        try! TransformerConfig(architecture: .qwen2, vocabularySize: 50, hiddenSize: 32, intermediateSize: 48,
                               layerCount: 3, headCount: 4, kvHeadCount: 2, headDim: 8, rmsNormEpsilon: 1e-6,
                               ropeTheta: 10000, contextLength: 64, tiedEmbeddings: true, attentionBias: true)
    }

    static func weights(_ c: TransformerConfig, seed: UInt64 = 9) -> InMemoryWeights {
        var t: [TensorName: [Float]] = [:]
        var stream: UInt64 = 0
        func add(_ name: TensorName, std: Float, offset: Float = 0) {
            stream += 1
            t[name] = Support.gaussian(name.shape(c).reduce(1, *), seed: seed, stream: stream, std: std).map { $0 + offset }
        }
        add(.embedding, std: 1)
        add(.finalNorm, std: 0.1, offset: 1)
        for l in 0 ..< c.layerCount {
            add(.layer(l, .inputNorm), std: 0.1, offset: 1)
            add(.layer(l, .postAttentionNorm), std: 0.1, offset: 1)
            for kind in ModuleKind.allCases { add(.layer(l, kind.tensor), std: 0.3) }
            for b: TensorName.LayerTensor in [.qBias, .kBias, .vBias] { add(.layer(l, b), std: 0.1) }
        }
        return InMemoryWeights(t)
    }

    static func base(_ configuration: AdapterConfiguration, seed: UInt64 = 9) throws -> (TransformerConfig, InMemoryWeights, FrozenBase) {
        let c = config()
        let w = weights(c, seed: seed)
        let plan = try AdapterPlan(configuration: configuration, model: c)
        return (c, w, try FrozenBase.build(plan: plan, model: c, weights: w))
    }
}

final class AdapterTests: XCTestCase {
    override class func setUp() { BLAS.useSingleThread() }

    func testTinyLoRAStartsAsNoOpAndUsesSharedV() throws {
        let (c, w, base) = try TinyModel.base(.init(method: .tinyLoRA, rank: 2, u: 3, tying: .tiled(4)))
        let adapter = try Adapter(base: base)
        XCTAssertEqual(adapter.parameters, [Float](repeating: 0, count: 6 * 3))  // 21 modules, 6 groups of 3
        XCTAssertTrue(adapter.deltas.allSatisfy { $0.r.allSatisfy { $0 == 0 } })
        // A = √s·Vᵀ, B = U·√s: B·A is the best rank-2 approximation of W.
        let m = base.plan.modules[5]
        let wq = try XCTUnwrap(w.tensor(m.tensorName, shape: m.tensorName.shape(c)))
        let svd = try TruncatedSVD.compute(wq, rows: m.outFeatures, columns: m.inFeatures, rank: 2)
        let f = base.factors[5]
        for o in 0 ..< m.outFeatures {
            for i in 0 ..< m.inFeatures {
                var ba: Float = 0, usv: Float = 0
                for j in 0 ..< 2 {
                    ba += f.b[o * 2 + j] * f.a[j * m.inFeatures + i]
                    usv += svd.u[o * 2 + j] * svd.singularValues[j] * svd.vt[j * m.inFeatures + i]
                }
                XCTAssertEqual(ba, usv, accuracy: 1e-5)
            }
        }
        // R = Σ vᵢ Pᵢ with the module's group's v.
        var values = adapter.parameters
        for i in values.indices { values[i] = Float(i + 1) / 10 }
        try adapter.setParameters(values)
        for module in [0, 5, 20] {
            let g = base.plan.groupOfModule[module]
            let p = adapter.projections[module]
            for e in 0 ..< 4 {
                var expected: Float = 0
                for i in 0 ..< 3 { expected += values[g * 3 + i] * p[i * 4 + e] }
                XCTAssertEqual(adapter.deltas[module].r[e], expected, accuracy: 1e-6)
            }
        }
        XCTAssertEqual(base.plan.groupOfModule[4], base.plan.groupOfModule[7])
        XCTAssertThrowsError(try adapter.setParameters([1, 2]))
        values[3] = .infinity
        XCTAssertThrowsError(try adapter.setParameters(values)) { XCTAssertTrue("\($0)".contains("not finite")) }
    }

    func testInitialValuesOfLoRAXSAndLoRA() throws {
        let (_, _, xsBase) = try TinyModel.base(.init(method: .loraXS, rank: 4))
        let xs = try Adapter(base: xsBase)
        XCTAssertEqual(xs.parameters.count, 21 * 16)
        let rms = (xs.parameters.reduce(0) { $0 + Double($1 * $1) } / Double(xs.parameters.count)).squareRoot()
        XCTAssertEqual(rms, 1e-5, accuracy: 2e-6)
        XCTAssertEqual(xs.deltas[3].r, Array(xs.parameters[48 ..< 64]))

        let (_, _, loraBase) = try TinyModel.base(.init(method: .lora, rank: 2, alpha: 8, targets: [.q, .down]))
        XCTAssertTrue(loraBase.factors.isEmpty)
        let lora = try Adapter(base: loraBase)
        let plan = loraBase.plan
        for m in plan.modules {
            let start = plan.loraOffset(module: m.index)
            let a = lora.parameters[start ..< start + 2 * m.inFeatures]
            let b = lora.parameters[start + 2 * m.inFeatures ..< start + 2 * (m.inFeatures + m.outFeatures)]
            let bound = 1 / Float(m.inFeatures).squareRoot()
            XCTAssertTrue(a.allSatisfy { abs($0) <= bound } && a.contains { abs($0) > bound / 2 })
            XCTAssertTrue(b.allSatisfy { $0 == 0 })
            XCTAssertEqual(lora.deltas[m.index].a, Array(a))
            XCTAssertEqual(lora.deltas[m.index].r, [4, 0, 0, 4])  // α/r · I
        }
    }

    func testMergeThenUnmergeRestoresTheBaseExactly() throws {
        let (c, w, base) = try TinyModel.base(.init(method: .tinyLoRA, rank: 2, u: 2, tying: .all, layers: 1 ..< 3))
        let model = try TransformerModel(config: c, weights: w, threads: 2)
        let adapter = try Adapter(base: base, parameters: [0.7, -0.4])
        let tokens = [[3, 17, 5, 42, 8]]
        let before = try model.forward(tokens: tokens, slots: [0], cache: model.makeCache(slots: 1, capacity: 16),
                                       allPositions: true)
        let originals = ModuleKind.allCases.map { Adapter.targetLinear(model, layer: 1, kind: $0).weight }
        let kept = try adapter.merge(into: model)
        for (k, kind) in ModuleKind.allCases.enumerated() {
            let index = base.plan.modules.firstIndex { $0.layer == 1 && $0.kind == kind }!
            let expected = adapter.deltas[index].merged(into: originals[k])
            XCTAssertEqual(Adapter.targetLinear(model, layer: 1, kind: kind).weight, expected)
            XCTAssertNotEqual(expected, originals[k])
        }
        XCTAssertEqual(model.layers[0].q.weight, try XCTUnwrap(w.tensor(.layer(0, .qWeight), shape: [32, 32])))
        let merged = try model.forward(tokens: tokens, slots: [0], cache: model.makeCache(slots: 1, capacity: 16),
                                       allPositions: true)
        XCTAssertNotEqual(merged.values, before.values)
        kept.unmerge(from: model)
        for (k, kind) in ModuleKind.allCases.enumerated() {
            XCTAssertEqual(Adapter.targetLinear(model, layer: 1, kind: kind).weight.map(\.bitPattern),
                           originals[k].map(\.bitPattern))
        }
        let after = try model.forward(tokens: tokens, slots: [0], cache: model.makeCache(slots: 1, capacity: 16),
                                      allPositions: true)
        XCTAssertEqual(after.values.map(\.bitPattern), before.values.map(\.bitPattern))
    }

    func testFingerprintDependsOnTheWeights() throws {
        let configuration = AdapterConfiguration(method: .tinyLoRA, tying: .all)
        let (_, _, a) = try TinyModel.base(configuration, seed: 9)
        let (_, _, b) = try TinyModel.base(configuration, seed: 9)
        let (_, _, other) = try TinyModel.base(configuration, seed: 10)
        XCTAssertEqual(a.fingerprint, b.fingerprint)
        XCTAssertNotEqual(a.fingerprint, other.fingerprint)
        XCTAssertEqual(a.factors, b.factors)
        // One weight changed by one ulp changes it.
        let c = TinyModel.config()
        var w = TinyModel.weights(c)
        w.tensors[.layer(2, .downWeight)]![100] = w.tensors[.layer(2, .downWeight)]![100].nextUp
        let changed = try FrozenBase.build(plan: a.plan, model: c, weights: w)
        XCTAssertNotEqual(changed.fingerprint, a.fingerprint)
        XCTAssertEqual(a.fingerprint.description.count, 64)
    }
}

final class AdapterEngineTests: XCTestCase {
    override class func setUp() { BLAS.useSingleThread() }

    /// The unmerged path the engine will take (base product, then `LowRankDelta.addDelta`) equals the merged
    /// weight's product, on every target linear of a tiny engine model, for the three methods.
    func testUnmergedEqualsMergedPerLinear() throws {
        for configuration in [AdapterConfiguration(method: .tinyLoRA, u: 4, tying: .tiled(3)),
                              AdapterConfiguration(method: .loraXS, rank: 3, tying: .structured(2)),
                              AdapterConfiguration(method: .lora, rank: 2, alpha: 6)] {
            let (c, w, base) = try TinyModel.base(configuration)
            let model = try TransformerModel(config: c, weights: w, threads: 2)
            let values = Support.gaussian(base.plan.trainableParameterCount, seed: 31, std: 0.5)
            let adapter = try Adapter(base: base, parameters: values)
            let rows = 6
            var unmerged: [[Float]] = []
            for m in base.plan.modules {
                let linear = Adapter.targetLinear(model, layer: m.layer, kind: m.kind)
                let x = Support.gaussian(rows * m.inFeatures, seed: 8, stream: UInt64(m.index))
                var y = [Float](repeating: 0, count: rows * m.outFeatures)
                x.withUnsafeBufferPointer { xp in
                    y.withUnsafeMutableBufferPointer { yp in
                        linear.forward(xp.baseAddress!, rows: rows, into: yp.baseAddress!, threads: 2)
                        adapter.deltas[m.index].addDelta(xp.baseAddress!, rows: rows, into: yp.baseAddress!, threads: 2)
                    }
                }
                unmerged.append(y)
            }
            let kept = try adapter.merge(into: model)
            for m in base.plan.modules {
                let linear = Adapter.targetLinear(model, layer: m.layer, kind: m.kind)
                let x = Support.gaussian(rows * m.inFeatures, seed: 8, stream: UInt64(m.index))
                var y = [Float](repeating: 0, count: rows * m.outFeatures)
                x.withUnsafeBufferPointer { xp in
                    y.withUnsafeMutableBufferPointer { linear.forward(xp.baseAddress!, rows: rows, into: $0.baseAddress!, threads: 2) }
                }
                let scale = y.map(abs).max()!
                for i in y.indices {
                    XCTAssertEqual(y[i], unmerged[m.index][i], accuracy: 1e-5 * scale, "\(configuration.method) \(m)")
                }
            }
            kept.unmerge(from: model)
        }
    }

    /// Factors do not depend on how many modules run at once.
    func testFactorsIndependentOfThreadCount() throws {
        let c = TinyModel.config()
        let w = TinyModel.weights(c)
        let plan = try AdapterPlan(configuration: .init(method: .tinyLoRA, rank: 4), model: c)
        let one = try FrozenBase.build(plan: plan, model: c, weights: w, threads: 1)
        let two = try FrozenBase.build(plan: plan, model: c, weights: w, threads: 2)
        XCTAssertEqual(one.fingerprint, two.fingerprint)
        for (a, b) in zip(one.factors, two.factors) {
            XCTAssertEqual(a.a.map(\.bitPattern), b.a.map(\.bitPattern))
            XCTAssertEqual(a.b.map(\.bitPattern), b.b.map(\.bitPattern))
        }
    }
}
