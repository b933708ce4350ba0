/// Llama (and SmolLM2, which is Llama-shaped): no biases by default, Q/K rows permuted in GGUF files.
enum LlamaFamily: ArchitectureFamily {
    static let ggufPermutesQK = true
    static let defaultTiedEmbeddings = false

    static func attentionBias(huggingFaceConfig json: [String: Any]) throws -> Bool {
        if let mlpBias = json["mlp_bias"] as? Bool, mlpBias {
            throw TransformerError("config.json: llama with mlp_bias = true is not supported")
        }
        // `attention_bias` puts a bias on q, k, v and o in HF; the engine has no o bias.
        if let bias = json["attention_bias"] as? Bool, bias {
            throw TransformerError("config.json: llama with attention_bias = true (bias on o_proj) is not supported")
        }
        return false
    }
}
