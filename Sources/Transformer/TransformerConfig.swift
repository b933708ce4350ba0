/// The model families this engine runs. Each family's specifics (config keys, weight-file quirks) live in its
/// own file (`Llama.swift`, `Qwen2.swift`); the layer code is shared.
public enum Architecture: String, Sendable, CaseIterable {
    case llama
    case qwen2

    /// Parses a GGUF `general.architecture` or HF `model_type`, or throws naming the supported ones.
    public init(named name: String) throws {
        guard let a = Architecture(rawValue: name) else {
            let supported = Architecture.allCases.map(\.rawValue).joined(separator: ", ")
            throw TransformerError("unsupported model architecture '\(name)' (supported: \(supported))")
        }
        self = a
    }
}

/// Hyper-parameters of a Llama/Qwen2 decoder-only transformer.
///
/// Shapes that follow: embedding `[vocabularySize, hiddenSize]`; per layer q `[headCount·headDim, hiddenSize]`,
/// k and v `[kvHeadCount·headDim, hiddenSize]`, o `[hiddenSize, headCount·headDim]`, gate and up
/// `[intermediateSize, hiddenSize]`, down `[hiddenSize, intermediateSize]`; LM head `[vocabularySize, hiddenSize]`.
public struct TransformerConfig: Equatable, Sendable {
    public var architecture: Architecture
    public var vocabularySize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var layerCount: Int
    public var headCount: Int
    public var kvHeadCount: Int
    public var headDim: Int
    public var rmsNormEpsilon: Float
    public var ropeTheta: Double
    public var contextLength: Int
    /// The LM head reuses the token embedding matrix.
    public var tiedEmbeddings: Bool
    /// q, k and v projections carry biases (Qwen2); the output projection never does.
    public var attentionBias: Bool

    public init(architecture: Architecture, vocabularySize: Int, hiddenSize: Int, intermediateSize: Int,
                layerCount: Int, headCount: Int, kvHeadCount: Int, headDim: Int, rmsNormEpsilon: Float,
                ropeTheta: Double, contextLength: Int, tiedEmbeddings: Bool, attentionBias: Bool) throws {
        self.architecture = architecture
        self.vocabularySize = vocabularySize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.layerCount = layerCount
        self.headCount = headCount
        self.kvHeadCount = kvHeadCount
        self.headDim = headDim
        self.rmsNormEpsilon = rmsNormEpsilon
        self.ropeTheta = ropeTheta
        self.contextLength = contextLength
        self.tiedEmbeddings = tiedEmbeddings
        self.attentionBias = attentionBias
        try validate()
    }

    public var queryDim: Int { headCount * headDim }
    public var kvDim: Int { kvHeadCount * headDim }

    /// Checks the numbers are usable (positive, heads divisible into groups, even head dimension, sizes below
    /// 2^24 each so no product can overflow or allocate absurdly before the weights are checked against them).
    public func validate() throws {
        let limit = 1 << 24
        for (name, v) in [("vocabulary size", vocabularySize), ("hidden size", hiddenSize),
                          ("intermediate size", intermediateSize), ("layer count", layerCount),
                          ("head count", headCount), ("kv head count", kvHeadCount), ("head dimension", headDim),
                          ("context length", contextLength)] {
            guard v > 0, v < limit else {
                throw TransformerError("model config: \(name) \(v) is out of range (1 ..< \(limit))")
            }
        }
        guard headCount % kvHeadCount == 0 else {
            throw TransformerError("model config: \(headCount) attention heads cannot be grouped over \(kvHeadCount) kv heads")
        }
        guard headDim % 2 == 0 else {
            throw TransformerError("model config: head dimension \(headDim) must be even for RoPE")
        }
        guard rmsNormEpsilon.isFinite, rmsNormEpsilon > 0 else {
            throw TransformerError("model config: RMSNorm epsilon \(rmsNormEpsilon) must be positive")
        }
        guard ropeTheta.isFinite, ropeTheta > 1 else {
            throw TransformerError("model config: RoPE theta \(ropeTheta) must be greater than 1")
        }
    }

    /// Number of weights (tied embeddings counted once).
    public var parameterCount: Int {
        let attention = hiddenSize * queryDim * 2 + hiddenSize * kvDim * 2 + (attentionBias ? queryDim + 2 * kvDim : 0)
        let mlp = 3 * hiddenSize * intermediateSize
        let perLayer = attention + mlp + 2 * hiddenSize
        return vocabularySize * hiddenSize * (tiedEmbeddings ? 1 : 2) + layerCount * perLayer + hiddenSize
    }
}
