import Foundation
import ModelFiles
import Transformer

extension MergedExport {
    /// A Hugging Face `config.json` for `config` (llama or qwen2; silu MLP, default RoPE): `architectures`,
    /// `model_type`, sizes, heads, `head_dim`, `rms_norm_eps`, `rope_theta`, `max_position_embeddings`,
    /// `tie_word_embeddings`, `attention_bias` (llama), `torch_dtype`; `extra` keys (e.g. `bos_token_id`) are added.
    public static func huggingFaceConfig(_ config: TransformerConfig, dtype: SafetensorsDType,
                                         extra: [String: Any] = [:]) -> [String: Any] {
        var json: [String: Any] = [
            "architectures": [config.architecture == .llama ? "LlamaForCausalLM" : "Qwen2ForCausalLM"],
            "model_type": config.architecture.rawValue,
            "vocab_size": config.vocabularySize,
            "hidden_size": config.hiddenSize,
            "intermediate_size": config.intermediateSize,
            "num_hidden_layers": config.layerCount,
            "num_attention_heads": config.headCount,
            "num_key_value_heads": config.kvHeadCount,
            "head_dim": config.headDim,
            "hidden_act": "silu",
            "rms_norm_eps": Double(config.rmsNormEpsilon),
            "rope_theta": config.ropeTheta,
            "max_position_embeddings": config.contextLength,
            "tie_word_embeddings": config.tiedEmbeddings,
            "torch_dtype": dtype == .bf16 ? "bfloat16" : "float32",
        ]
        if config.architecture == .llama { json["attention_bias"] = config.attentionBias }
        for (k, v) in extra { json[k] = v }
        return json
    }

    /// Every weight of a model with configuration `config`, in checkpoint order.
    static func tensorNames(_ config: TransformerConfig) -> [TensorName] {
        var names: [TensorName] = [.embedding]
        for l in 0 ..< config.layerCount {
            for t in TensorName.LayerTensor.allCases {
                if [.qBias, .kBias, .vBias].contains(t), !config.attentionBias { continue }
                names.append(.layer(l, t))
            }
        }
        names.append(.finalNorm)
        if !config.tiedEmbeddings { names.append(.lmHead) }
        return names
    }

    /// Writes a Hugging Face model directory: `config.json`, `model.safetensors` (every weight in HF layout, target
    /// weights replaced by `W + B·R·A`, stored as F32 or BF16), copies of `tokenizerFiles` (e.g. `tokenizer.json`,
    /// `tokenizer_config.json` of an HF source) and `files` (name → contents, e.g. the tokenizer files made from a
    /// GGUF source by `Tokenizer.huggingFaceFiles(gguf:)`), each written atomically.
    public static func writeHuggingFace(adapter: Adapter, config: TransformerConfig, weights: WeightSource,
                                        to directory: String, dtype: SafetensorsDType = .f32,
                                        extraConfig: [String: Any] = [:], tokenizerFiles: [String] = [],
                                        files: [String: Data] = [:]) throws {
        guard dtype == .f32 || dtype == .bf16 else {
            throw AdapterError("merged Hugging Face weights can be F32 or BF16, not \(dtype.rawValue)")
        }
        for name in files.keys {
            guard !name.isEmpty, !name.contains("/"), name != "config.json", name != "model.safetensors" else {
                throw AdapterError("cannot write a file named \(String(reflecting: name)) into the model directory")
            }
        }
        try checkShapes(adapter, config)
        var targets: [TensorName: TargetModule] = [:]
        for m in adapter.plan.modules { targets[m.tensorName] = m }
        var writer = SafetensorsWriter(metadata: ["format": "pt"])
        for name in tensorNames(config) {
            let shape = name.shape(config)
            guard var values = try weights.tensor(name, shape: shape) else {
                throw AdapterError("the base model has no tensor \(name.huggingFace)")
            }
            if let m = targets[name] { values = adapter.deltas[m.index].merged(into: values) }
            try writer.addTensor(name: name.huggingFace, shape: shape, values: values, as: dtype)
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let dir = URL(fileURLWithPath: directory)
        let json = try JSONSerialization.data(withJSONObject: huggingFaceConfig(config, dtype: dtype, extra: extraConfig),
                                              options: [.prettyPrinted, .sortedKeys])
        try json.write(to: dir.appendingPathComponent("config.json"), options: .atomic)
        try writer.write(to: dir.appendingPathComponent("model.safetensors").path)
        for file in tokenizerFiles {
            let target = dir.appendingPathComponent((file as NSString).lastPathComponent)
            try? FileManager.default.removeItem(at: target)
            do {
                try FileManager.default.copyItem(at: URL(fileURLWithPath: file), to: target)
            } catch {
                throw AdapterError("cannot copy tokenizer file \(file): \(error.localizedDescription)")
            }
        }
        for (name, data) in files.sorted(by: { $0.key < $1.key }) {
            let writer = try AtomicFileWriter(path: dir.appendingPathComponent(name).path)
            try writer.write([UInt8](data))
            try writer.commit()
        }
    }
}
