import Adapters
import Foundation
import ModelFiles
import Numerics
import Transformer
import XCTest

/// `LoRAExport`: the exported lora_B·lora_A (scale lora_alpha/r = 1) equals the adapter's ΔW = B·R·A, in the PEFT
/// directory and in the llama.cpp GGUF adapter (llama: lora_b rows in GGUF Q/K order).
final class ExportLoRATests: XCTestCase {
    override class func setUp() { BLAS.useSingleThread() }

    static func llamaConfig() throws -> TransformerConfig {
        try TransformerConfig(architecture: .llama, vocabularySize: 50, hiddenSize: 32, intermediateSize: 48,
                              layerCount: 2, headCount: 4, kvHeadCount: 2, headDim: 8, rmsNormEpsilon: 1e-5,
                              ropeTheta: 10000, contextLength: 64, tiedEmbeddings: true, attentionBias: false)
    }

    /// `[out, in]` = b `[out, r]` · a `[r, in]`, in Double.
    static func product(_ b: [Float], _ a: [Float], out: Int, rank r: Int, in n: Int) -> [Double] {
        var w = [Double](repeating: 0, count: out * n)
        for o in 0 ..< out { for k in 0 ..< r { for i in 0 ..< n { w[o * n + i] += Double(b[o * r + k]) * Double(a[k * n + i]) } } }
        return w
    }

    /// ΔW = B·R·A of module m, in Double.
    static func delta(_ adapter: Adapter, _ m: TargetModule) -> [Double] {
        let d = adapter.deltas[m.index], r = adapter.plan.configuration.rank
        var ra = [Float](repeating: 0, count: r * m.inFeatures)
        for i in 0 ..< r { for k in 0 ..< r { for c in 0 ..< m.inFeatures { ra[i * m.inFeatures + c] += d.r[i * r + k] * d.a[k * m.inFeatures + c] } } }
        return product(d.b, ra, out: m.outFeatures, rank: r, in: m.inFeatures)
    }

    static func assertClose(_ x: [Double], _ y: [Double], _ label: String) {
        let scale = max(1e-12, y.map(abs).max()!)
        let worst = zip(x, y).map { abs($0 - $1) }.max()!
        XCTAssertLessThan(worst / scale, 1e-5, label)
        XCTAssertGreaterThan(scale, 1e-6, "\(label): ΔW must be non-zero")
    }

    func testPEFTAndGGUFLoRAReproduceDelta() throws {
        let config = try ExportLoRATests.llamaConfig()
        let weights = TinyModel.weights(config, seed: 5)
        for method in [AdapterMethod.tinyLoRA, .loraXS, .lora] {
            let plan = try AdapterPlan(configuration: .init(method: method, rank: 2, u: 3, alpha: method == .lora ? 6 : nil,
                                                            tying: method == .lora ? .none : .tiled(2), seed: 4),
                                       model: config)
            let base = try FrozenBase.build(plan: plan, model: config, weights: weights)
            let adapter = try Adapter(base: base, parameters: Support.gaussian(plan.trainableParameterCount, seed: 8, std: 0.5))
            let dir = NSTemporaryDirectory() + "lora-export-\(UUID().uuidString)"
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try LoRAExport.writePEFT(adapter: adapter, to: dir)
            let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir)
                .appendingPathComponent("adapter_config.json"))) as? [String: Any])
            XCTAssertEqual(json["peft_type"] as? String, "LORA")
            XCTAssertEqual(json["r"] as? Int, 2)
            XCTAssertEqual(json["lora_alpha"] as? Int, 2)
            let peft = try SafetensorsFile(path: dir + "/adapter_model.safetensors")
            let gguf = dir + "/lora.gguf"
            try LoRAExport.writeGGUF(adapter: adapter, config: config, to: gguf)
            let file = try GGUFFile(path: gguf)
            XCTAssertEqual(file.string("general.type"), "adapter")
            XCTAssertEqual(file.string("adapter.type"), "lora")
            XCTAssertEqual(file.metadata["adapter.lora.alpha"]?.double, 2)
            XCTAssertEqual(file.string("general.architecture"), "llama")
            for m in plan.modules {
                let expected = ExportLoRATests.delta(adapter, m)
                let path = "base_model.model.model.layers.\(m.layer).\([.gate, .up, .down].contains(m.kind) ? "mlp" : "self_attn").\(m.kind.huggingFaceName)"
                let a = try peft.floats(path + ".lora_A.weight"), b = try peft.floats(path + ".lora_B.weight")
                XCTAssertEqual(peft.tensorInfo(path + ".lora_A.weight")?.shape, [2, m.inFeatures])
                XCTAssertEqual(peft.tensorInfo(path + ".lora_B.weight")?.shape, [m.outFeatures, 2])
                ExportLoRATests.assertClose(ExportLoRATests.product(b, a, out: m.outFeatures, rank: 2, in: m.inFeatures),
                                            expected, "\(method) PEFT \(m)")

                let name = m.tensorName.gguf
                let aInfo = try XCTUnwrap(file.tensorInfo(name + ".lora_a")), bInfo = try XCTUnwrap(file.tensorInfo(name + ".lora_b"))
                XCTAssertEqual(aInfo.dims, [m.inFeatures, 2])
                XCTAssertEqual(bInfo.dims, [2, m.outFeatures])
                var gb = try file.dequantize(bInfo)
                if m.kind == .q || m.kind == .k {
                    gb = QKPermutation.unpermute(gb, heads: m.kind == .q ? config.headCount : config.kvHeadCount, rowLength: 2)
                    XCTAssertNotEqual(gb, try file.dequantize(bInfo), "llama Q/K lora_b rows are stored permuted")
                }
                ExportLoRATests.assertClose(ExportLoRATests.product(gb, try file.dequantize(aInfo), out: m.outFeatures,
                                                                    rank: 2, in: m.inFeatures), expected, "\(method) GGUF \(m)")
            }
        }
    }
}
