import Foundation
import Adapters
import ModelFiles
import Transformer
import XCTest

/// Targets, tying groups and sizes.
final class PlanTests: XCTestCase {
    /// Qwen2.5-Coder-0.5B's shapes, read from the real GGUF header.
    private func qwenConfig() throws -> TransformerConfig {
        try TransformerConfig(gguf: GGUFFile(path: Support.modelPath("Qwen2.5-Coder-0.5B-Instruct.gguf")))
    }

    func testQwenSizesFromTheIssue() throws {
        let model = try qwenConfig()
        XCTAssertEqual(model.layerCount, 24)
        let tied13 = try AdapterPlan(configuration: .init(method: .tinyLoRA, u: 13, tying: .all), model: model)
        XCTAssertEqual(tied13.modules.count, 168)
        XCTAssertEqual(tied13.groupCount, 1)
        XCTAssertEqual(tied13.trainableParameterCount, 13)
        XCTAssertEqual([tied13.bytes(.fp32), tied13.bytes(.bf16), tied13.bytes(.fp16)], [52, 26, 26])
        let one = try AdapterPlan(configuration: .init(method: .tinyLoRA, u: 1, tying: .all), model: model)
        XCTAssertEqual(one.trainableParameterCount, 1)
        let xs = try AdapterPlan(configuration: .init(method: .loraXS, rank: 2), model: model)
        XCTAssertEqual(xs.trainableParameterCount, 672)
        let untied = try AdapterPlan(configuration: .init(method: .tinyLoRA, u: 1), model: model)
        XCTAssertEqual(untied.groupCount, 168)
        XCTAssertEqual(untied.trainableParameterCount, 168)
        // LoRA r=2 on every module: Σ 2·(in + out).
        let lora = try AdapterPlan(configuration: .init(method: .lora, rank: 2), model: model)
        let perLayer = 2 * ((896 + 896) * 2 + (896 + 128) * 2 + (896 + 4864) * 3)
        XCTAssertEqual(lora.trainableParameterCount, 24 * perLayer)
    }

    private func shapes() -> [ModuleKind: (out: Int, in: Int)] {
        [.q: (32, 32), .k: (16, 32), .v: (16, 32), .o: (32, 32), .gate: (48, 32), .up: (48, 32), .down: (32, 48)]
    }

    func testModuleOrderSubsetsAndLayerRange() throws {
        let plan = try AdapterPlan(configuration: .init(method: .tinyLoRA, targets: [.down, .q], layers: 2 ..< 5),
                                   layerCount: 6, shapes: shapes())
        XCTAssertEqual(plan.modules.map(\.description),
                       ["layers.2.q", "layers.2.down", "layers.3.q", "layers.3.down", "layers.4.q", "layers.4.down"])
        XCTAssertEqual(plan.modules.map(\.index), Array(0 ..< 6))
        XCTAssertEqual(plan.modules[1].outFeatures, 32)
        XCTAssertEqual(plan.modules[1].inFeatures, 48)
        XCTAssertThrowsError(try AdapterPlan(configuration: .init(method: .tinyLoRA, layers: 4 ..< 7), layerCount: 6,
                                             shapes: shapes()))
        XCTAssertThrowsError(try ModuleKind.parseList("q,attn"))
        XCTAssertEqual(try ModuleKind.parseList("down_proj, q,k,q"), [.q, .k, .down])
        XCTAssertThrowsError(try AdapterPlan(configuration: .init(method: .tinyLoRA, rank: 17), layerCount: 2,
                                             shapes: shapes()))  // r > 16 = min(out, in) of k
        XCTAssertThrowsError(try AdapterPlan(configuration: .init(method: .lora, tying: .all), layerCount: 2,
                                             shapes: shapes()))
    }

    private func groups(_ tying: Tying, layers: Int = 2, targets: [ModuleKind] = ModuleKind.allCases) throws -> [Int] {
        try AdapterPlan(configuration: .init(method: .tinyLoRA, tying: tying, targets: targets), layerCount: layers,
                        shapes: shapes()).groupOfModule
    }

    func testTiledAndAll() throws {
        XCTAssertEqual(try groups(.tiled(3)), [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4])
        XCTAssertEqual(try groups(.tiled(20)), [Int](repeating: 0, count: 14))
        XCTAssertEqual(try groups(.all), [Int](repeating: 0, count: 14))
        XCTAssertEqual(try groups(.none), Array(0 ..< 14))
        XCTAssertThrowsError(try groups(.tiled(0)))
    }

    /// PEFT: G = max(1, round(N·(1 − wt))) (Python round: half to even), size = max(1, N div G),
    /// group(idx) = min(idx div size, G − 1).
    func testWeightTyingRatioFollowsPEFT() throws {
        // N = 14, wt = 0.5: G = 7, size 2.
        XCTAssertEqual(try groups(.ratio(0.5)), [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6])
        // N = 14, wt = 0.75: 14·0.25 = 3.5 rounds to 4 (even), size 3, the last group takes the rest.
        XCTAssertEqual(try groups(.ratio(0.75)), [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3])
        // N = 5 (q..gate of one layer), wt = 0.5: 2.5 rounds to 2 (half to even), size 2 → [0,0,1,1,1].
        XCTAssertEqual(try groups(.ratio(0.5), layers: 1, targets: [.q, .k, .v, .o, .gate]), [0, 0, 1, 1, 1])
        // wt = 0: untied; wt = 1: one group.
        XCTAssertEqual(try groups(.ratio(0)), Array(0 ..< 14))
        XCTAssertEqual(try groups(.ratio(1)), [Int](repeating: 0, count: 14))
        XCTAssertThrowsError(try groups(.ratio(1.5)))
        XCTAssertThrowsError(try groups(.ratio(.nan)))
    }

    func testStructuredGroupsByModuleKind() throws {
        // 3 layers × (q, v): structured(1) = one group per module; structured(2) ties layers {0,1} and {2} per kind.
        XCTAssertEqual(try groups(.structured(1), layers: 3, targets: [.q, .v]), [0, 1, 2, 3, 4, 5])
        XCTAssertEqual(try groups(.structured(2), layers: 3, targets: [.q, .v]), [0, 1, 0, 1, 2, 3])
        XCTAssertEqual(try groups(.structured(3), layers: 3, targets: [.q, .v]), [0, 1, 0, 1, 0, 1])
        let plan = try AdapterPlan(configuration: .init(method: .tinyLoRA, u: 5, tying: .structured(8)),
                                   layerCount: 3, shapes: shapes())
        XCTAssertEqual(plan.groupCount, 7)
        XCTAssertEqual(plan.trainableParameterCount, 35)
    }
}

final class PlanSummaryTests: XCTestCase {
    func testJSONSummaryAndTyingFlags() throws {
        let shapes: [ModuleKind: (out: Int, in: Int)] = [.q: (32, 32), .k: (16, 32), .v: (16, 32), .o: (32, 32),
                                                         .gate: (48, 32), .up: (48, 32), .down: (32, 48)]
        let plan = try AdapterPlan(configuration: .init(method: .tinyLoRA, u: 13, tying: try Tying(tie: "all", weightTying: nil, structured: nil)),
                                   layerCount: 2, shapes: shapes)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(plan.jsonSummary.utf8)) as? [String: Any])
        XCTAssertEqual(object["trainable_parameters"] as? Int, 13)
        XCTAssertEqual(object["groups"] as? Int, 1)
        XCTAssertEqual(object["modules"] as? Int, 14)
        XCTAssertEqual(object["bytes_fp32"] as? Int, 52)
        XCTAssertEqual(object["bytes_bf16"] as? Int, 26)
        XCTAssertEqual(try Tying(tie: "3", weightTying: nil, structured: nil), .tiled(3))
        XCTAssertEqual(try Tying(tie: nil, weightTying: 0.5, structured: nil), .ratio(0.5))
        XCTAssertEqual(try Tying(tie: nil, weightTying: nil, structured: 2), .structured(2))
        XCTAssertEqual(try Tying(tie: nil, weightTying: nil, structured: nil), Tying.none)
        XCTAssertThrowsError(try Tying(tie: "some", weightTying: nil, structured: nil))
        XCTAssertThrowsError(try Tying(tie: "0", weightTying: nil, structured: nil))
        XCTAssertThrowsError(try Tying(tie: "all", weightTying: 0.5, structured: nil))
        XCTAssertThrowsError(try Tying(tie: nil, weightTying: -0.1, structured: nil))

        // Structured tying reads as such in the summary: all targeted layers as plain "structured".
        for (tying, text) in [(Tying.structured(Tying.allLayers), "structured"), (.structured(2), "structured(2)"),
                              (.tiled(3), "tiled(3)"), (.ratio(0.5), "ratio(0.5)"), (.none, "none")] {
            let p = try AdapterPlan(configuration: .init(method: .tinyLoRA, tying: tying), layerCount: 2, shapes: shapes)
            let o = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(p.jsonSummary.utf8)) as? [String: Any])
            XCTAssertEqual(o["tying"] as? String, text)
        }
    }
}
