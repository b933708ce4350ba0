import Adapters
import Foundation
import ModelFiles
import Numerics
import Transformer
import XCTest

/// `MergedExport.writeGGUF`: the merged GGUF, loaded by our engine, gives the logits of the attached adapter.
///
/// Set `TINYLORA_WRITE_MERGED_GGUF=PATH` to keep the F32 merged SmolLM2 GGUF at PATH (for
/// `Fixtures/check_merged_gguf_llamacpp.py`).
final class ExportMergedGGUFTests: XCTestCase {
    override class func setUp() { BLAS.useSingleThread() }

    static let tokens = [1, 504, 3458, 282, 4649, 314, 253, 1345, 28, 1701, 2063, 30, 1116, 504, 2960]

    static func logits(_ model: TransformerModel) throws -> [Float] {
        let cache = model.makeCache(slots: 1, capacity: tokens.count)
        return try model.forward(tokens: [tokens], slots: [0], cache: cache, allPositions: true).values
    }

    /// The SmolLM2 adapter used here and by the llama.cpp check script (TinyLoRA r=2 u=4, PEFT tying 0.75).
    static func smolLM2() throws -> (GGUFFile, TransformerConfig, TransformerModel, Adapter) {
        let file = try GGUFFile(path: Support.modelPath("SmolLM2-135M-Instruct.Q4_1.gguf"))
        let config = try TransformerConfig(gguf: file)
        let weights = GGUFWeights(file: file, config: config)
        let model = try TransformerModel(config: config, weights: weights, threads: 2)
        let plan = try AdapterPlan(configuration: ExportPEFTTinyLoRATests.configuration, model: config)
        let base = try FrozenBase.build(plan: plan, model: config, weights: weights)
        let adapter = try Adapter(base: base, parameters: Support.gaussian(plan.trainableParameterCount, seed: 31, std: 0.1))
        return (file, config, model, adapter)
    }

    func testSmolLM2MergedGGUFMatchesAttachedAdapter() throws {
        let (file, config, model, adapter) = try ExportMergedGGUFTests.smolLM2()
        let baseLogits = try ExportMergedGGUFTests.logits(model)
        try adapter.attach(to: model)
        let attached = try ExportMergedGGUFTests.logits(model)
        adapter.detach(from: model)
        let scale = attached.map(abs).max()!
        let effect = zip(attached, baseLogits).map { abs($0 - $1) }.max()!
        XCTAssertGreaterThan(effect, 0.1, "the adapter must visibly change the logits")

        // Tolerances relative to max |logit| (over every vocabulary entry at every position): F32 1e-4 (measured
        // 5.3e-5 / 27.4 = 2e-6); Q8_0 re-quantizes every merged weight to 8-bit blocks, measured 1.6 / 27.4 = 5.8e-2
        // for this strong adapter (effect 20), so 0.1.
        // F16 1e-2 and BF16 5e-2 (8-bit mantissa; the merged HF BF16 directory measures 0.31 / 27.4).
        for (type, tolerance) in [(GGMLType.f32, Float(1e-4)), (.f16, 1e-2), (.bf16, 5e-2), (.q8_0, 0.1)] {
            let keep = type == .f32 ? ProcessInfo.processInfo.environment["TINYLORA_WRITE_MERGED_GGUF"] : nil
            let path = keep ?? NSTemporaryDirectory() + "merged-\(UUID().uuidString).gguf"
            defer { if keep == nil { try? FileManager.default.removeItem(atPath: path) } }
            try MergedExport.writeGGUF(adapter: adapter, source: file, config: config, to: path, type: type)
            let merged = try GGUFFile(path: path)
            XCTAssertEqual(merged.metadataKeys, file.metadataKeys)
            XCTAssertEqual(merged.string("general.architecture"), "llama")
            XCTAssertEqual(merged.tensors.map(\.name), file.tensors.map(\.name))
            for info in file.tensors where !info.name.hasPrefix("blk.") || info.name.hasSuffix("norm.weight") {
                let copy = try XCTUnwrap(merged.tensorInfo(info.name))
                XCTAssertEqual(copy.type, info.type)
                XCTAssertTrue([UInt8](merged.rawData(copy)) == [UInt8](file.rawData(info)), "\(info.name) must be unchanged")
            }
            XCTAssertEqual(merged.tensorInfo("blk.0.attn_q.weight")?.type, type)
            let mergedConfig = try TransformerConfig(gguf: merged)
            let mergedModel = try TransformerModel(config: mergedConfig, weights: GGUFWeights(file: merged, config: mergedConfig),
                                                   threads: 2)
            let logits = try ExportMergedGGUFTests.logits(mergedModel)
            let worst = zip(logits, attached).map { abs($0 - $1) }.max()!
            print("merged \(type.name) GGUF vs attached adapter: max |Δlogit| \(worst) (max |logit| \(scale), "
                + "adapter effect \(effect))")
            XCTAssertLessThan(worst, tolerance * scale, "\(type.name)")
        }
        XCTAssertThrowsError(try MergedExport.writeGGUF(adapter: adapter, source: file, config: config, to: file.path))
        XCTAssertThrowsError(try MergedExport.writeGGUF(adapter: adapter, source: file, config: config,
                                                        to: NSTemporaryDirectory() + "x.gguf", type: .q4_1)) {
            XCTAssertTrue("\($0)".contains("F32, F16, BF16 or Q8_0"), "\($0)")
        }
    }

    struct LlamaCppFixture: Decodable {
        let generator: String
        let prompt: [Int]
        let generated: [Int]
    }

    /// Greedy continuation of `prompt` by `model` (argmax of the last logits), `count` tokens.
    static func greedy(_ model: TransformerModel, prompt: [Int], count: Int) throws -> [Int] {
        let cache = model.makeCache(slots: 1, capacity: prompt.count + count)
        var next = prompt
        var generated: [Int] = []
        for _ in 0 ..< count {
            let logits = try model.forward(tokens: [next], slots: [0], cache: cache, allPositions: false)
            let row = logits[logits.rows - 1]
            let token = row.indices.max { row[$0] < row[$1] }! - row.startIndex
            generated.append(token)
            next = [token]
        }
        return generated
    }

    static func llamaCppFixture(_ name: String) throws -> LlamaCppFixture {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil)).appendingPathComponent(name)
        return try JSONDecoder().decode(LlamaCppFixture.self, from: Data(contentsOf: url))
    }

    /// Our greedy continuation of `fixture.prompt` with `adapter` attached equals llama.cpp's, and the base model's
    /// differs from it (so the adapter matters); both are printed after `label`.
    static func assertAdaptedGreedyMatches(_ fixture: LlamaCppFixture, model: TransformerModel, adapter: Adapter,
                                           label: String = "", file: StaticString = #filePath,
                                           line: UInt = #line) throws {
        let baseline = try greedy(model, prompt: fixture.prompt, count: fixture.generated.count)
        try adapter.attach(to: model)
        defer { adapter.detach(from: model) }
        let generated = try greedy(model, prompt: fixture.prompt, count: fixture.generated.count)
        print("\(label)ours \(generated), \(fixture.generator) \(fixture.generated), base model \(baseline)")
        XCTAssertEqual(generated, fixture.generated, file: file, line: line)
        XCTAssertNotEqual(baseline, fixture.generated, "the adapter must change the greedy output", file: file, line: line)
    }

    /// Our greedy continuation with the adapter attached equals llama.cpp's on the merged F32 GGUF (fixture
    /// `merged_gguf_llamacpp.json`, written by `Fixtures/check_merged_gguf_llamacpp.py`).
    func testLlamaCppGreedyOnMergedGGUFEqualsOurs() throws {
        let fixture = try ExportMergedGGUFTests.llamaCppFixture("merged_gguf_llamacpp.json")
        let (_, _, model, adapter) = try ExportMergedGGUFTests.smolLM2()
        try ExportMergedGGUFTests.assertAdaptedGreedyMatches(fixture, model: model, adapter: adapter)
    }

    /// Our greedy continuation with the adapter attached equals llama.cpp's on the base GGUF with the adapter exported
    /// by `LoRAExport.writeGGUF` (fixture `lora_gguf_llamacpp.json`, same script with the LoRA path as 2nd argument;
    /// set `TINYLORA_WRITE_LORA_GGUF=PATH` to keep the adapter file).
    func testLlamaCppGreedyWithGGUFLoRAEqualsOurs() throws {
        let (_, config, model, adapter) = try ExportMergedGGUFTests.smolLM2()
        let keep = ProcessInfo.processInfo.environment["TINYLORA_WRITE_LORA_GGUF"]
        let path = keep ?? NSTemporaryDirectory() + "lora-\(UUID().uuidString).gguf"
        defer { if keep == nil { try? FileManager.default.removeItem(atPath: path) } }
        try LoRAExport.writeGGUF(adapter: adapter, config: config, to: path)
        let fixture = try ExportMergedGGUFTests.llamaCppFixture("lora_gguf_llamacpp.json")
        try adapter.attach(to: model)
        defer { adapter.detach(from: model) }
        let generated = try ExportMergedGGUFTests.greedy(model, prompt: fixture.prompt, count: fixture.generated.count)
        print("ours \(generated), \(fixture.generator) with GGUF LoRA \(fixture.generated)")
        XCTAssertEqual(generated, fixture.generated)
    }

    /// `MergedExport.writeHuggingFace`: the merged HF directory (F32) loads back with our engine to the attached
    /// adapter's logits (1e-4 relative), its config.json parses to the same configuration; BF16 within 5e-2.
    func testSmolLM2MergedHuggingFaceDirectoryLoadsBack() throws {
        let (_, config, model, adapter) = try ExportMergedGGUFTests.smolLM2()
        let weights = GGUFWeights(file: try GGUFFile(path: Support.modelPath("SmolLM2-135M-Instruct.Q4_1.gguf")), config: config)
        try adapter.attach(to: model)
        let attached = try ExportMergedGGUFTests.logits(model)
        adapter.detach(from: model)
        let scale = attached.map(abs).max()!
        for (dtype, tolerance) in [(SafetensorsDType.f32, Float(1e-4)), (.bf16, 5e-2)] {
            // TINYLORA_WRITE_MERGED_HF=DIR keeps the F32 directory (for Fixtures/check_merged_hf_transformers.py).
            let keep = dtype == .f32 ? ProcessInfo.processInfo.environment["TINYLORA_WRITE_MERGED_HF"] : nil
            let dir = keep ?? NSTemporaryDirectory() + "merged-hf-\(UUID().uuidString)"
            defer { if keep == nil { try? FileManager.default.removeItem(atPath: dir) } }
            try MergedExport.writeHuggingFace(adapter: adapter, config: config, weights: weights, to: dir, dtype: dtype)
            let loadedConfig = try TransformerConfig(huggingFaceConfig: Data(contentsOf: URL(fileURLWithPath: dir + "/config.json")))
            XCTAssertEqual(loadedConfig, config)
            let checkpoint = try SafetensorsCollection(directory: dir)
            let loaded = try TransformerModel(config: loadedConfig, weights: SafetensorsWeights(checkpoint: checkpoint, source: dir),
                                              threads: 2)
            let logits = try ExportMergedGGUFTests.logits(loaded)
            let worst = zip(logits, attached).map { abs($0 - $1) }.max()!
            print("merged HF \(dtype.rawValue) vs attached adapter: max |Δlogit| \(worst) (max |logit| \(scale))")
            XCTAssertLessThan(worst, tolerance * scale, dtype.rawValue)
        }
    }
}
