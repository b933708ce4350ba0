import Foundation

extension TransformerConfig {
    /// Reads a Hugging Face `config.json` (`model_type` llama or qwen2 and the usual keys; `num_key_value_heads`
    /// defaults to the head count, `head_dim` to hidden / heads, `rope_theta` to 10000). RoPE scaling other than
    /// the default, and activations other than SiLU, are refused.
    public init(huggingFaceConfig data: Data, source: String = "config.json") throws {
        guard let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw TransformerError("\(source): not a JSON object")
        }
        guard let modelType = json["model_type"] as? String else {
            throw TransformerError("\(source): no model_type")
        }
        let architecture = try Architecture(named: modelType)
        func int(_ key: String) throws -> Int {
            guard let n = json[key] as? NSNumber, let v = Int(exactly: n.doubleValue) else {
                throw TransformerError("\(source): \(key) is missing or not an integer")
            }
            return v
        }
        func optionalInt(_ key: String) throws -> Int? {
            json[key] == nil || json[key] is NSNull ? nil : try int(key)
        }
        func double(_ key: String) throws -> Double? {
            guard let v = json[key], !(v is NSNull) else { return nil }
            guard let n = v as? NSNumber else { throw TransformerError("\(source): \(key) is not a number") }
            return n.doubleValue
        }
        if let act = json["hidden_act"] as? String, act != "silu" {
            throw TransformerError("\(source): activation '\(act)' is not supported (only silu)")
        }
        var theta = try double("rope_theta")
        for key in ["rope_scaling", "rope_parameters"] {
            guard let scaling = json[key], !(scaling is NSNull) else { continue }
            guard let dict = scaling as? [String: Any] else { throw TransformerError("\(source): \(key) is not an object") }
            let type = (dict["rope_type"] ?? dict["type"]) as? String ?? "default"
            guard type == "default" else {
                throw TransformerError("\(source): RoPE scaling '\(type)' is not supported")
            }
            if let t = dict["rope_theta"] as? NSNumber { theta = t.doubleValue }
        }
        let hidden = try int("hidden_size")
        let heads = try int("num_attention_heads")
        let family = architecture.family
        try self.init(
            architecture: architecture,
            vocabularySize: try int("vocab_size"),
            hiddenSize: hidden,
            intermediateSize: try int("intermediate_size"),
            layerCount: try int("num_hidden_layers"),
            headCount: heads,
            kvHeadCount: try optionalInt("num_key_value_heads") ?? heads,
            headDim: try optionalInt("head_dim") ?? (heads > 0 ? hidden / heads : 0),
            rmsNormEpsilon: Float(try double("rms_norm_eps") ?? 1e-6),
            ropeTheta: theta ?? 10000,
            contextLength: try optionalInt("max_position_embeddings") ?? 4096,
            tiedEmbeddings: json["tie_word_embeddings"] as? Bool ?? family.defaultTiedEmbeddings,
            attentionBias: try family.attentionBias(huggingFaceConfig: json))
    }
}
