import Foundation
import ModelFiles
import Transformer

/// Writes a base model with an adapter merged in (`W' = W + B·R·A` for every target module) as files other tools
/// load without knowing about adapters.
public enum MergedExport {
    /// The GGUF `general.file_type` (llama.cpp's `llama_ftype`) of a file whose adapted tensors are `type`.
    static func fileType(_ type: GGMLType) -> UInt32? {
        switch type {
        case .f32: 0
        case .f16: 1
        case .q8_0: 7
        case .bf16: 32
        default: nil
        }
    }

    /// Writes `source` (the GGUF the adapter's base weights came from) to `path` with every target weight replaced by
    /// its merged value encoded as `type` (F32, F16, BF16 or Q8_0). All metadata is copied in order (only
    /// `general.file_type` is set to match `type`); every other tensor keeps its original type and bytes. Merging
    /// happens in Hugging Face layout; llama Q/K rows are permuted back to GGUF order (`QKPermutation`).
    /// The GGUF stores a `[out, in]` weight with dims `[in, out]` (innermost first) and the same bytes.
    public static func writeGGUF(adapter: Adapter, source: GGUFFile, config: TransformerConfig, to path: String,
                                 type: GGMLType = .f32) throws {
        guard Quantize.supportedTypes.contains(type), let fileType = fileType(type) else {
            throw AdapterError("merged GGUF tensors can be F32, F16, BF16 or Q8_0, not \(type.name)")
        }
        guard source.path != path else { throw AdapterError("the merged GGUF must not overwrite its source \(path)") }
        try checkShapes(adapter, config)
        let weights = GGUFWeights(file: source, config: config)
        var targets: [String: TargetModule] = [:]
        for m in adapter.plan.modules { targets[m.tensorName.gguf] = m }
        var writer = GGUFWriter()
        for key in source.metadataKeys {
            guard let value = source.metadata[key] else { continue }
            try writer.set(key, value)
        }
        try writer.set("general.file_type", .uint32(fileType))
        for info in source.tensors {
            guard let m = targets.removeValue(forKey: info.name) else {
                let bytes = [UInt8](source.rawData(info))
                try writer.addTensor(name: info.name, dims: info.dims, type: info.type, bytes: bytes)
                continue
            }
            let delta = adapter.deltas[m.index]
            let permute = config.architecture == .llama && (m.kind == .q || m.kind == .k)
            let heads = m.kind == .q ? config.headCount : config.kvHeadCount
            try writer.addTensor(name: info.name, dims: info.dims, type: type) { buffer in
                guard let w = try weights.tensor(m.tensorName, shape: [m.outFeatures, m.inFeatures]) else {
                    throw AdapterError("the base GGUF has no tensor \(info.name)")
                }
                var merged = delta.merged(into: w)
                if permute { merged = QKPermutation.permute(merged, heads: heads, rowLength: m.inFeatures) }
                let bytes = try Quantize.encode(type, merged)
                guard bytes.count == buffer.count else {
                    throw AdapterError("\(info.name): encoded \(bytes.count) bytes, expected \(buffer.count)")
                }
                bytes.withUnsafeBytes { buffer.copyMemory(from: $0) }
            }
        }
        if let missing = targets.keys.sorted().first {
            throw AdapterError("the base GGUF has no tensor \(missing) for a target module")
        }
        try writer.write(to: path)
    }

    static func checkShapes(_ adapter: Adapter, _ config: TransformerConfig) throws {
        let plan = adapter.plan
        guard plan.layerCount == config.layerCount else {
            throw AdapterError("the adapter was planned for \(plan.layerCount) layers, the model has \(config.layerCount)")
        }
        for m in plan.modules {
            let s = m.kind.shape(config)
            guard s.out == m.outFeatures, s.in == m.inFeatures else {
                throw AdapterError("\(m) is [\(s.out), \(s.in)] in the model, [\(m.outFeatures), \(m.inFeatures)] in the adapter")
            }
        }
    }
}
