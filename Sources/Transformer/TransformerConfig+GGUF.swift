import ModelFiles

extension TransformerConfig {
    /// Reads the hyper-parameters from GGUF metadata (`general.architecture` and `<arch>.*` keys); the
    /// vocabulary size comes from `token_embd.weight`, tied embeddings from the absence of `output.weight`,
    /// attention biases from the presence of `blk.0.attn_q.bias`.
    public init(gguf file: GGUFFile) throws {
        guard let archName = file.string("general.architecture") else {
            throw TransformerError("\(file.path): metadata has no general.architecture")
        }
        let architecture = try Architecture(named: archName)
        func int(_ key: String) throws -> Int {
            guard let v = file.int("\(archName).\(key)") else {
                throw TransformerError("\(file.path): metadata \(archName).\(key) is missing or not an integer")
            }
            return v
        }
        func double(_ key: String) throws -> Double {
            guard let v = file.double("\(archName).\(key)") else {
                throw TransformerError("\(file.path): metadata \(archName).\(key) is missing or not a number")
            }
            return v
        }
        func optionalInt(_ key: String) throws -> Int? {
            guard let value = file.metadata["\(archName).\(key)"] else { return nil }
            guard let v = value.int else {
                throw TransformerError("\(file.path): metadata \(archName).\(key) is not a single integer (per-layer values are not supported)")
            }
            return v
        }
        if let scaling = file.string("\(archName).rope.scaling.type"), scaling != "none" {
            throw TransformerError("\(file.path): RoPE scaling '\(scaling)' is not supported")
        }
        guard let embedding = file.tensorInfo(TensorName.embedding.gguf), embedding.dims.count == 2 else {
            throw TransformerError("\(file.path): no 2-D tensor \(TensorName.embedding.gguf)")
        }
        let hidden = try int("embedding_length")
        let heads = try int("attention.head_count")
        let kvHeads = try optionalInt("attention.head_count_kv") ?? heads
        let headDim = try optionalInt("attention.key_length") ?? (heads > 0 ? hidden / heads : 0)
        if let valueLength = try optionalInt("attention.value_length"), valueLength != headDim {
            throw TransformerError("\(file.path): key length \(headDim) differs from value length \(valueLength)")
        }
        if let ropeDims = try optionalInt("rope.dimension_count"), ropeDims != headDim {
            throw TransformerError("\(file.path): partial RoPE (\(ropeDims) of \(headDim) dimensions) is not supported")
        }
        try self.init(
            architecture: architecture,
            vocabularySize: embedding.dims[1],
            hiddenSize: hidden,
            intermediateSize: try int("feed_forward_length"),
            layerCount: try int("block_count"),
            headCount: heads,
            kvHeadCount: kvHeads,
            headDim: headDim,
            rmsNormEpsilon: Float(try double("attention.layer_norm_rms_epsilon")),
            ropeTheta: file.metadata["\(archName).rope.freq_base"] == nil ? 10000 : try double("rope.freq_base"),
            contextLength: try int("context_length"),
            tiedEmbeddings: file.tensorInfo(TensorName.lmHead.gguf) == nil,
            attentionBias: file.tensorInfo(TensorName.layer(0, .qBias).gguf) != nil)
        guard embedding.dims[0] == hidden else {
            throw TransformerError("\(file.path): token_embd.weight is \(embedding.dims) but embedding_length is \(hidden)")
        }
    }
}
