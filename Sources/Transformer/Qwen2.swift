/// Qwen2 / Qwen2.5: q, k and v projections always carry biases; GGUF rows are stored in HF order.
enum Qwen2Family: ArchitectureFamily {
    static let ggufPermutesQK = false
    static let defaultTiedEmbeddings = false

    static func attentionBias(huggingFaceConfig json: [String: Any]) throws -> Bool {
        if let sliding = json["use_sliding_window"] as? Bool, sliding {
            throw TransformerError("config.json: qwen2 with use_sliding_window = true is not supported")
        }
        return true
    }
}
