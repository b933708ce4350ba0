import Adapters
import Foundation
import ModelFiles
import Numerics
import Transformer
import XCTest

/// The PEFT TinyLoRA export and the merged GGUF on Qwen2.5-Coder-0.5B (qwen2: attention biases, separate output
/// head, no Q/K row permutation), against the references, as `ExportPEFTTinyLoRATests` and `ExportMergedGGUFTests`
/// do on SmolLM2:
/// - PEFT loading our exported directory on the transformers model of the same GGUF gives our adapted logits within
///   0.05 and the adapter's effect within 0.01 (fixture `peft_export_logits_qwen2.5-coder-0.5b.json`, written by
///   `Fixtures/make_peft_export_logits.py --model qwen2.5-coder-0.5b` from the directory this test writes when run
///   with `TINYLORA_WRITE_PEFT_EXPORT_QWEN=DIR`);
/// - llama.cpp's greedy continuation on the merged F32 GGUF equals ours with the adapter attached (fixture
///   `merged_gguf_llamacpp_qwen2.5-coder-0.5b.json`, written by `Fixtures/check_merged_gguf_llamacpp.py` from the
///   GGUF this test writes when run with `TINYLORA_WRITE_MERGED_GGUF_QWEN=PATH`).
final class QwenExportTests: XCTestCase {
    override class func setUp() { BLAS.useSingleThread() }

    static let modelFile = "Qwen2.5-Coder-0.5B-Instruct.gguf"

    /// Qwen2.5 with the adapter configuration of the SmolLM2 tests (TinyLoRA r=2 u=4, PEFT tying 0.75, seed 5) and
    /// v ~ N(0, 0.1²) (seed 31).
    static func qwen() throws -> (GGUFFile, TransformerConfig, TransformerModel, Adapter) {
        let file = try GGUFFile(path: Support.modelPath(modelFile))
        let config = try TransformerConfig(gguf: file)
        let weights = GGUFWeights(file: file, config: config)
        let model = try TransformerModel(config: config, weights: weights, threads: 2)
        let plan = try AdapterPlan(configuration: ExportPEFTTinyLoRATests.configuration, model: config)
        XCTAssertEqual(plan.modules.count, 168)
        let base = try FrozenBase.build(plan: plan, model: config, weights: weights)
        let adapter = try Adapter(base: base, parameters: Support.gaussian(plan.trainableParameterCount, seed: 31, std: 0.1))
        return (file, config, model, adapter)
    }

    func fixtureURL(_ name: String) throws -> URL {
        try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil)).appendingPathComponent(name)
    }

    func testQwenLogitsMatchPEFT() throws {
        let (file, config, model, adapter) = try QwenExportTests.qwen()
        let keep = ProcessInfo.processInfo.environment["TINYLORA_WRITE_PEFT_EXPORT_QWEN"]
        let dir = keep ?? ExportPEFTTinyLoRATests.temporaryDirectory()
        defer { if keep == nil { try? FileManager.default.removeItem(atPath: dir) } }
        try PEFTExport.write(adapter: adapter, to: dir, baseModel: QwenExportTests.modelFile)

        let fixture = try JSONDecoder().decode(ExportPEFTTinyLoRATests.Fixture.self,
                                               from: Data(contentsOf: fixtureURL("peft_export_logits_qwen2.5-coder-0.5b.json")))
        XCTAssertEqual(fixture.v, adapter.parameters, "the fixture was made with these trained values")
        XCTAssertEqual(fixture.groups, adapter.plan.groupCount)
        let imported = try PEFTImport.read(directory: dir, model: config, weights: GGUFWeights(file: file, config: config))
        let worst = try ExportPEFTTinyLoRATests.worstGaps([("exported", adapter), ("imported", imported)], model: model,
                                                          fixture: fixture, label: "Qwen2.5 ")
        XCTAssertLessThan(worst.adapted, 0.05)
        XCTAssertLessThan(worst.effect, 0.01)
        XCTAssertGreaterThan(worst.effectSize, 0.1, "the adapter must visibly change the logits")
    }

    func testQwenLlamaCppGreedyOnMergedGGUFEqualsOurs() throws {
        let (file, config, model, adapter) = try QwenExportTests.qwen()
        if let keep = ProcessInfo.processInfo.environment["TINYLORA_WRITE_MERGED_GGUF_QWEN"] {
            try MergedExport.writeGGUF(adapter: adapter, source: file, config: config, to: keep, type: .f32)
            print("wrote the merged F32 Qwen2.5 GGUF to \(keep)")
        }
        let fixture = try ExportMergedGGUFTests.llamaCppFixture("merged_gguf_llamacpp_qwen2.5-coder-0.5b.json")
        try ExportMergedGGUFTests.assertAdaptedGreedyMatches(fixture, model: model, adapter: adapter, label: "Qwen2.5: ")
    }
}
