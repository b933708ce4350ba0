/// What differs between the supported families; everything else (layers, forward pass) is shared.
protocol ArchitectureFamily {
    /// llama.cpp's converter stores this family's Q and K rows permuted (see `QKPermutation`).
    static var ggufPermutesQK: Bool { get }
    /// Whether q/k/v carry biases, from a HF `config.json` (throws on variants the engine cannot run).
    static func attentionBias(huggingFaceConfig: [String: Any]) throws -> Bool
    /// `tie_word_embeddings` when `config.json` does not say.
    static var defaultTiedEmbeddings: Bool { get }
}

extension Architecture {
    var family: ArchitectureFamily.Type {
        switch self {
        case .llama: LlamaFamily.self
        case .qwen2: Qwen2Family.self
        }
    }
}
