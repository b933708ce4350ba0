/// The weights of a Llama/Qwen2 model, named once here with their Hugging Face and GGUF spellings.
public enum TensorName: Hashable, Sendable {
    case embedding
    case finalNorm
    case lmHead
    case layer(Int, LayerTensor)

    public enum LayerTensor: Hashable, Sendable, CaseIterable {
        case inputNorm, postAttentionNorm
        case qWeight, qBias, kWeight, kBias, vWeight, vBias, oWeight
        case gateWeight, upWeight, downWeight
    }

    /// Name in a Hugging Face checkpoint (`model.safetensors`).
    public var huggingFace: String {
        switch self {
        case .embedding: "model.embed_tokens.weight"
        case .finalNorm: "model.norm.weight"
        case .lmHead: "lm_head.weight"
        case .layer(let i, let t):
            "model.layers.\(i)." + {
                switch t {
                case .inputNorm: "input_layernorm.weight"
                case .postAttentionNorm: "post_attention_layernorm.weight"
                case .qWeight: "self_attn.q_proj.weight"
                case .qBias: "self_attn.q_proj.bias"
                case .kWeight: "self_attn.k_proj.weight"
                case .kBias: "self_attn.k_proj.bias"
                case .vWeight: "self_attn.v_proj.weight"
                case .vBias: "self_attn.v_proj.bias"
                case .oWeight: "self_attn.o_proj.weight"
                case .gateWeight: "mlp.gate_proj.weight"
                case .upWeight: "mlp.up_proj.weight"
                case .downWeight: "mlp.down_proj.weight"
                }
            }()
        }
    }

    /// Name in a llama.cpp GGUF file.
    public var gguf: String {
        switch self {
        case .embedding: "token_embd.weight"
        case .finalNorm: "output_norm.weight"
        case .lmHead: "output.weight"
        case .layer(let i, let t):
            "blk.\(i)." + {
                switch t {
                case .inputNorm: "attn_norm.weight"
                case .postAttentionNorm: "ffn_norm.weight"
                case .qWeight: "attn_q.weight"
                case .qBias: "attn_q.bias"
                case .kWeight: "attn_k.weight"
                case .kBias: "attn_k.bias"
                case .vWeight: "attn_v.weight"
                case .vBias: "attn_v.bias"
                case .oWeight: "attn_output.weight"
                case .gateWeight: "ffn_gate.weight"
                case .upWeight: "ffn_up.weight"
                case .downWeight: "ffn_down.weight"
                }
            }()
        }
    }

    /// Shape in HF order (outermost first: `[out, in]` for matrices), given the config.
    public func shape(_ c: TransformerConfig) -> [Int] {
        switch self {
        case .embedding, .lmHead: [c.vocabularySize, c.hiddenSize]
        case .finalNorm: [c.hiddenSize]
        case .layer(_, let t):
            switch t {
            case .inputNorm, .postAttentionNorm: [c.hiddenSize]
            case .qWeight: [c.queryDim, c.hiddenSize]
            case .qBias: [c.queryDim]
            case .kWeight, .vWeight: [c.kvDim, c.hiddenSize]
            case .kBias, .vBias: [c.kvDim]
            case .oWeight: [c.hiddenSize, c.queryDim]
            case .gateWeight, .upWeight: [c.intermediateSize, c.hiddenSize]
            case .downWeight: [c.hiddenSize, c.intermediateSize]
            }
        }
    }
}
