import ModelFiles

/// Weights of a GGUF file, dequantized to fp32 on request and returned in HF layout: GGUF dims are
/// innermost-first, so a stored `[in, out]` is HF `[out, in]` with the same bytes; llama-family Q/K rows are
/// un-permuted (see `QKPermutation`).
public struct GGUFWeights: WeightSource {
    public let file: GGUFFile
    public let config: TransformerConfig

    public init(file: GGUFFile, config: TransformerConfig) {
        self.file = file
        self.config = config
    }

    public func tensor(_ name: TensorName, shape: [Int]) throws -> [Float]? {
        guard let info = file.tensorInfo(name.gguf) else { return nil }
        let expected = Array(shape.reversed())
        guard info.dims == expected else {
            throw TransformerError("\(file.path): tensor \(name.gguf) has dims \(info.dims), expected \(expected)")
        }
        let values: [Float]
        do {
            values = try file.dequantize(info)
        } catch {
            throw TransformerError("\(file.path): tensor \(name.gguf): \(error)")
        }
        guard config.architecture.family.ggufPermutesQK, case .layer(_, let t) = name else { return values }
        switch t {
        case .qWeight: return QKPermutation.unpermute(values, heads: config.headCount, rowLength: config.hiddenSize)
        case .qBias: return QKPermutation.unpermute(values, heads: config.headCount, rowLength: 1)
        case .kWeight: return QKPermutation.unpermute(values, heads: config.kvHeadCount, rowLength: config.hiddenSize)
        case .kBias: return QKPermutation.unpermute(values, heads: config.kvHeadCount, rowLength: 1)
        default: return values
        }
    }
}
