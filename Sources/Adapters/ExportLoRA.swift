import Foundation
import ModelFiles
import Transformer

/// Any adapter (TinyLoRA, LoRA-XS, LoRA) written as a plain rank-r LoRA: per target module
/// `lora_A = R·A` `[r, in]`, `lora_B = B` `[out, r]`, `lora_alpha = r` (scale α/r = 1), so `lora_B·lora_A = B·R·A = ΔW`.
///
/// - PEFT LoRA directory: `adapter_config.json` (`peft_type` "LORA", `r`, `lora_alpha`, `target_modules`, ...) and
///   `adapter_model.safetensors` with `base_model.model.model.layers.L.self_attn.q_proj.lora_A.weight` `[r, in]` and
///   `….lora_B.weight` `[out, r]` (F32).
/// - llama.cpp GGUF LoRA adapter: metadata `general.type` "adapter", `adapter.type` "lora", `adapter.lora.alpha` (f32),
///   `general.architecture` of the base; tensors `blk.L.attn_q.weight.lora_a` with GGUF dims `[in, r]` (innermost
///   first, i.e. the bytes of `[r, in]`) and `….lora_b` with dims `[r, out]`; for llama the rows of `lora_b` are in
///   GGUF Q/K order (`QKPermutation.permute`), like the base weights.
public enum LoRAExport {
    /// `(lora_A, lora_B)` of module `index`: `R·A` `[r, in]` and `B` `[out, r]`.
    public static func factors(_ adapter: Adapter, module index: Int) -> (a: [Float], b: [Float]) {
        let m = adapter.plan.modules[index]
        let d = adapter.deltas[index]
        let r = adapter.plan.configuration.rank
        let rm = d.r
        var a = [Float](repeating: 0, count: r * m.inFeatures)
        for i in 0 ..< r {
            for k in 0 ..< r {
                let w = rm[i * r + k]
                if w == 0 { continue }
                for c in 0 ..< m.inFeatures { a[i * m.inFeatures + c] += w * d.a[k * m.inFeatures + c] }
            }
        }
        return (a, d.b)
    }

    /// Writes a PEFT LoRA directory (created if missing).
    public static func writePEFT(adapter: Adapter, to directory: String, baseModel: String? = nil) throws {
        let plan = adapter.plan
        let r = plan.configuration.rank
        let allLayers = plan.layers == 0 ..< plan.layerCount
        let config: [String: Any] = [
            "peft_type": "LORA",
            "peft_version": "0.21.2",
            "base_model_name_or_path": baseModel ?? NSNull(),
            "task_type": "CAUSAL_LM",
            "r": r,
            "lora_alpha": r,
            "lora_dropout": 0.0,
            "target_modules": plan.configuration.targets.map(\.huggingFaceName),
            "layers_to_transform": allLayers ? NSNull() as Any : Array(plan.layers) as Any,
            "layers_pattern": NSNull(),
            "bias": "none",
            "fan_in_fan_out": false,
            "use_rslora": false,
            "use_dora": false,
            "init_lora_weights": true,
            "rank_pattern": [String: Any](),
            "alpha_pattern": [String: Any](),
            "modules_to_save": NSNull(),
            "inference_mode": true,
            "revision": NSNull(),
        ]
        var writer = SafetensorsWriter(metadata: ["format": "pt"])
        for m in plan.modules {
            let (a, b) = factors(adapter, module: m.index)
            let path = PEFTTinyLoRA.modulePath(m)
            try writer.addTensor(name: path + ".lora_A.weight", shape: [r, m.inFeatures], values: a, as: .f32)
            try writer.addTensor(name: path + ".lora_B.weight", shape: [m.outFeatures, r], values: b, as: .f32)
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let json = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
        try json.write(to: URL(fileURLWithPath: directory).appendingPathComponent(PEFTTinyLoRA.configFile),
                       options: .atomic)
        try writer.write(to: (directory as NSString).appendingPathComponent(PEFTTinyLoRA.weightsFile))
    }

    /// Writes a llama.cpp GGUF LoRA adapter for a base model with configuration `config` (architecture, heads).
    /// `baseMetadata` (e.g. the base GGUF's `general.name`) is optional extra metadata copied as given.
    public static func writeGGUF(adapter: Adapter, config: TransformerConfig, to path: String,
                                 baseMetadata: [String: GGUFValue] = [:]) throws {
        try MergedExport.checkShapes(adapter, config)
        let plan = adapter.plan
        let r = plan.configuration.rank
        var writer = GGUFWriter()
        try writer.set("general.architecture", .string(config.architecture.rawValue))
        try writer.set("general.type", .string("adapter"))
        try writer.set("adapter.type", .string("lora"))
        try writer.set("adapter.lora.alpha", .float32(Float(r)))
        for (key, value) in baseMetadata.sorted(by: { $0.key < $1.key }) { try writer.set(key, value) }
        for m in plan.modules {
            var (a, b) = factors(adapter, module: m.index)
            if config.architecture == .llama, m.kind == .q || m.kind == .k {
                b = QKPermutation.permute(b, heads: m.kind == .q ? config.headCount : config.kvHeadCount, rowLength: r)
            }
            let name = m.tensorName.gguf
            try writer.addTensor(name: name + ".lora_a", dims: [m.inFeatures, r], values: a, as: .f32)
            try writer.addTensor(name: name + ".lora_b", dims: [r, m.outFeatures], values: b, as: .f32)
        }
        try writer.write(to: path)
    }
}
