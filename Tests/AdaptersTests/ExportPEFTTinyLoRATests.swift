import Adapters
import Foundation
import ModelFiles
import Numerics
import Transformer
import XCTest

/// PEFT TinyLoRA export and import (`PEFTExport`, `PEFTImport`).
///
/// The SmolLM2 test compares our engine with the exported adapter against PEFT loading the same directory on the
/// transformers model of the same GGUF (fixture `peft_export_logits.json`, written by
/// `Fixtures/make_peft_export_logits.py`). To regenerate: run this test with
/// `TINYLORA_WRITE_PEFT_EXPORT=/tmp/smollm2-peft-tinylora` (it writes the PEFT directory there), then
/// `python make_peft_export_logits.py /tmp/smollm2-peft-tinylora` in the Fixtures folder.
final class ExportPEFTTinyLoRATests: XCTestCase {
    override class func setUp() { BLAS.useSingleThread() }

    static let configuration = AdapterConfiguration(method: .tinyLoRA, rank: 2, u: 4, tying: .ratio(0.75), seed: 5)

    struct Fixture: Decodable {
        let generator: String
        let tokens: [Int]
        let positions: [Int]
        /// Per position: the top-k token ids of PEFT's adapted logits, their adapted and base logits.
        let ids: [[Int]]
        let adapted: [[Float]]
        let base: [[Float]]
        let v: [Float]
        let groups: Int
    }

    static func temporaryDirectory() -> String {
        NSTemporaryDirectory() + "tinylora-export-\(UUID().uuidString)"
    }

    static func logits(_ model: TransformerModel, _ tokens: [Int]) throws -> Logits {
        let cache = model.makeCache(slots: 1, capacity: tokens.count)
        return try model.forward(tokens: [tokens], slots: [0], cache: cache, allPositions: true)
    }

    /// Attaches each candidate to `model` in turn and compares its logits at the fixture's positions and top-k ids
    /// with PEFT's: returns the largest |ours − PEFT| of the adapted logits and of the adapter's effect
    /// (adapted − base), and the largest PEFT effect, over all candidates (printed after each, after `label`).
    static func worstGaps(_ candidates: [(String, Adapter)], model: TransformerModel, fixture: Fixture,
                          label prefix: String = "") throws -> (adapted: Float, effect: Float, effectSize: Float) {
        let baseLogits = try logits(model, fixture.tokens)
        var worst = (adapted: Float(0), effect: Float(0), effectSize: Float(0))
        for (label, candidate) in candidates {
            try candidate.attach(to: model)
            let adapted = try logits(model, fixture.tokens)
            candidate.detach(from: model)
            for (k, position) in fixture.positions.enumerated() {
                for (j, id) in fixture.ids[k].enumerated() {
                    let ours = adapted[position][adapted[position].startIndex + id]
                    let ourBase = baseLogits[position][baseLogits[position].startIndex + id]
                    worst.adapted = max(worst.adapted, abs(ours - fixture.adapted[k][j]))
                    worst.effect = max(worst.effect, abs((ours - ourBase) - (fixture.adapted[k][j] - fixture.base[k][j])))
                    worst.effectSize = max(worst.effectSize, abs(fixture.adapted[k][j] - fixture.base[k][j]))
                }
            }
            print("\(prefix)\(label) vs PEFT (\(fixture.generator)): max |adapted − PEFT| \(worst.adapted), max |effect − "
                + "PEFT effect| \(worst.effect), largest PEFT effect \(worst.effectSize)")
        }
        return worst
    }

    /// Export then import on a small random model gives back the same plan, A, B, P and v; the config holds the
    /// PEFT keys; structured tying (not expressible) and a broken directory are refused with clear errors.
    func testRoundTripOnSmallModel() throws {
        let config = TinyModel.config()
        let weights = TinyModel.weights(config, seed: 3)
        for tying in [Tying.none, .all, .ratio(0.5), .tiled(3)] {
            let plan = try AdapterPlan(configuration: .init(method: .tinyLoRA, rank: 2, u: 3, tying: tying, seed: 9,
                                                            targets: [.q, .k, .down]), model: config)
            let base = try FrozenBase.build(plan: plan, model: config, weights: weights)
            let adapter = try Adapter(base: base, parameters: Support.gaussian(plan.trainableParameterCount, seed: 2))
            let dir = ExportPEFTTinyLoRATests.temporaryDirectory()
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try PEFTExport.write(adapter: adapter, to: dir)
            let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir)
                .appendingPathComponent("adapter_config.json"))) as? [String: Any])
            XCTAssertEqual(json["peft_type"] as? String, "TINYLORA")
            XCTAssertEqual(json["r"] as? Int, 2)
            XCTAssertEqual(json["u"] as? Int, 3)
            XCTAssertEqual(json["target_modules"] as? [String], ["q_proj", "k_proj", "down_proj"])
            let file = try SafetensorsFile(path: dir + "/adapter_model.safetensors")
            XCTAssertEqual(file.tensorInfo("base_model.model.model.layers.1.mlp.down_proj.tinylora_A")?.shape,
                           [2, config.intermediateSize])
            XCTAssertEqual(file.tensorInfo("base_model.tinylora_v.0")?.shape, [3])

            let back = try PEFTImport.read(directory: dir, model: config, weights: weights)
            XCTAssertEqual(back.plan.groupOfModule, plan.groupOfModule, "\(tying)")
            XCTAssertEqual(back.plan.groupCount, plan.groupCount)
            XCTAssertEqual(back.parameters, adapter.parameters)
            XCTAssertEqual(back.projections, adapter.projections)
            XCTAssertEqual(back.base.fingerprint, base.fingerprint)
            for m in plan.modules {
                XCTAssertEqual(back.deltas[m.index].a, adapter.deltas[m.index].a)
                XCTAssertEqual(back.deltas[m.index].b, adapter.deltas[m.index].b)
                XCTAssertEqual(back.effectiveR(module: m.index), adapter.effectiveR(module: m.index))
            }
        }
        let structured = try AdapterPlan(configuration: .init(method: .tinyLoRA, tying: .structured(2)), model: config)
        let adapter = try Adapter(base: try FrozenBase.build(plan: structured, model: config, weights: weights))
        XCTAssertThrowsError(try PEFTExport.write(adapter: adapter, to: ExportPEFTTinyLoRATests.temporaryDirectory())) {
            XCTAssertTrue("\($0)".contains("weight_tying cannot express"), "\($0)")
        }
        XCTAssertThrowsError(try PEFTImport.read(directory: "/nonexistent-peft", model: config, weights: weights)) {
            XCTAssertTrue("\($0)".contains("adapter_config.json"), "\($0)")
        }
    }

    func testSmolLM2LogitsMatchPEFT() throws {
        let file = try GGUFFile(path: Support.modelPath("SmolLM2-135M-Instruct.Q4_1.gguf"))
        let config = try TransformerConfig(gguf: file)
        let weights = GGUFWeights(file: file, config: config)
        let model = try TransformerModel(config: config, weights: weights, threads: 2)
        let plan = try AdapterPlan(configuration: ExportPEFTTinyLoRATests.configuration, model: config)
        let base = try FrozenBase.build(plan: plan, model: config, weights: weights)
        let v = Support.gaussian(plan.trainableParameterCount, seed: 31, std: 0.1)
        let adapter = try Adapter(base: base, parameters: v)
        let dir = ProcessInfo.processInfo.environment["TINYLORA_WRITE_PEFT_EXPORT"]
            ?? ExportPEFTTinyLoRATests.temporaryDirectory()
        try PEFTExport.write(adapter: adapter, to: dir, baseModel: "SmolLM2-135M-Instruct.Q4_1.gguf")
        print("wrote the PEFT TinyLoRA adapter to \(dir)")
        // TINYLORA_WRITE_PEFT_LORA=DIR: the same adapter as a plain PEFT LoRA (Fixtures/check_peft_lora.py).
        if let loraDir = ProcessInfo.processInfo.environment["TINYLORA_WRITE_PEFT_LORA"] {
            try LoRAExport.writePEFT(adapter: adapter, to: loraDir, baseModel: "SmolLM2-135M-Instruct.Q4_1.gguf")
        }

        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
            .appendingPathComponent("peft_export_logits.json")
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        XCTAssertEqual(fixture.v, v, "the fixture was made with these trained values")
        XCTAssertEqual(fixture.groups, plan.groupCount)

        let imported = try PEFTImport.read(directory: dir, model: config, weights: weights)
        XCTAssertEqual(imported.parameters, v)
        let worst = try ExportPEFTTinyLoRATests.worstGaps([("exported", adapter), ("imported", imported)], model: model,
                                                          fixture: fixture)
        XCTAssertLessThan(worst.adapted, 0.05)
        XCTAssertLessThan(worst.effect, 0.01)
        XCTAssertGreaterThan(worst.effectSize, 0.1, "the adapter must visibly change the logits")
        if ProcessInfo.processInfo.environment["TINYLORA_WRITE_PEFT_EXPORT"] == nil {
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    /// Import of an adapter PEFT made itself (its own SVD factors and torch projections; q_proj and v_proj of layers
    /// 0–1, weight_tying 0.5): our engine gives PEFT's logits (fixture `peft_import_logits.json` and directory
    /// `peft_tinylora_smollm2/`, both written by `Fixtures/make_peft_import.py`).
    func testImportPEFTMadeAdapter() throws {
        let file = try GGUFFile(path: Support.modelPath("SmolLM2-135M-Instruct.Q4_1.gguf"))
        let config = try TransformerConfig(gguf: file)
        let weights = GGUFWeights(file: file, config: config)
        let model = try TransformerModel(config: config, weights: weights, threads: 2)
        let fixtures = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: fixtures.appendingPathComponent("peft_import_logits.json")))
        let adapter = try PEFTImport.read(directory: fixtures.appendingPathComponent("peft_tinylora_smollm2").path,
                                          model: config, weights: weights)
        XCTAssertEqual(adapter.plan.modules.map(\.description), ["layers.0.q", "layers.0.v", "layers.1.q", "layers.1.v"])
        XCTAssertEqual(adapter.plan.groupOfModule, [0, 0, 1, 1])
        XCTAssertEqual(adapter.plan.groupCount, fixture.groups)
        XCTAssertEqual(adapter.parameters, fixture.v)
        let worst = try ExportPEFTTinyLoRATests.worstGaps([("imported PEFT-made adapter", adapter)], model: model,
                                                          fixture: fixture)
        XCTAssertLessThan(worst.adapted, 0.05)
        XCTAssertLessThan(worst.effect, 0.01)
        XCTAssertGreaterThan(worst.effectSize, 0.05, "the adapter must visibly change the logits")
    }
}
