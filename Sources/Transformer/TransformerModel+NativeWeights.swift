import ModelFiles

/// How a model loaded from a GGUF file holds the linear layers the file stores quantized.
public enum LinearStorage: Sendable {
    /// Dequantized to fp32 on load (every format available; ~4 bytes per weight).
    case fp32
    /// Only the file's quantized blocks (`Linear(quantized:)`, and the token embedding as `embeddingBlocks`): the
    /// forward runs from them (`WeightFormat.native`) and the fp32 weights are never stored, so memory is about the
    /// file's size (plus fp32 norms and biases). Anything that needs fp32 `W` (the fp32 or bf16 forward, the
    /// backward, merges) decodes it on demand; the forward decodes only the embedding rows it looks up.
    case quantized
}

/// A weight source that can also hand out a tensor's quantized blocks as stored (a GGUF file).
public protocol QuantizedWeightSource: WeightSource {
    /// The tensor's blocks in HF row order, or nil when the source has no such tensor or stores it unquantized
    /// (F32/F16/BF16). Throws when it exists with another shape.
    func quantizedMatrix(_ name: TensorName, shape: [Int]) throws -> QuantizedMatrix?
}

/// `--weights native` (or `LinearStorage.quantized`) on a model whose weights are not GGUF blocks.
public struct NativeWeightsUnavailableError: Error, CustomStringConvertible {
    public init() {}
    public var description: String {
        "--weights native needs a GGUF model (it runs from the file's quantized blocks); this model was loaded from safetensors or memory: use fp32 or bf16"
    }
}

extension GGUFWeights: QuantizedWeightSource {
    public func quantizedMatrix(_ name: TensorName, shape: [Int]) throws -> QuantizedMatrix? {
        guard let info = file.tensorInfo(name.gguf), QuantizedMatrix.supportedTypes.contains(info.type) else {
            return nil
        }
        guard shape.count == 2, info.dims == Array(shape.reversed()) else {
            throw TransformerError("\(file.path): tensor \(name.gguf) has dims \(info.dims), expected \(Array(shape.reversed()))")
        }
        var rowOrder: [Int]?
        if config.architecture.family.ggufPermutesQK, case .layer(_, let t) = name {
            if t == .qWeight { rowOrder = QKPermutation.ggufRows(heads: config.headCount, rows: shape[0]) }
            if t == .kWeight { rowOrder = QKPermutation.ggufRows(heads: config.kvHeadCount, rows: shape[0]) }
        }
        do {
            return try QuantizedMatrix(type: info.type, outFeatures: shape[0], inFeatures: shape[1],
                                       bytes: file.rawData(info), owner: file, rowOrder: rowOrder)
        } catch {
            throw TransformerError("\(file.path): tensor \(name.gguf): \(error)")
        }
    }
}

extension TransformerModel {
    /// The tensor each of `linearLayers` is loaded from (the embedding for a tied LM head).
    public var linearTensorNames: [TensorName] {
        (0 ..< layers.count).flatMap { l in
            [TensorName.LayerTensor.qWeight, .kWeight, .vWeight, .oWeight, .gateWeight, .upWeight, .downWeight]
                .map { TensorName.layer(l, $0) }
        } + [config.tiedEmbeddings ? .embedding : .lmHead]
    }

    /// Attaches the file's quantized blocks to every linear layer that has none, is stored quantized in the file
    /// and was not modified since loading (a merged layer keeps its fp32 weights). Throws
    /// `NativeWeightsUnavailableError` when the weights do not come from a GGUF file.
    func attachQuantizedBlocks() throws {
        guard let source = weightSource as? QuantizedWeightSource else { throw NativeWeightsUnavailableError() }
        for (linear, name) in zip(linearLayers, linearTensorNames)
        where linear.quantizedWeight == nil && !linear.weightModified {
            if let q = try source.quantizedMatrix(name, shape: [linear.outFeatures, linear.inFeatures]) {
                try linear.attachQuantized(q)
            }
        }
    }

    /// Bytes of the quantized blocks the linear layers hold (file-backed memory when mapped from the GGUF file).
    public var quantizedWeightBytes: Int {
        linearLayers.reduce(0) { $0 + ($1.quantizedWeight?.byteCount ?? 0) }
    }

    /// Bytes of stored fp32 linear weights (0 for layers holding only their blocks; a tied head sharing the fp32
    /// embedding's storage is counted).
    public var fp32LinearWeightBytes: Int {
        linearLayers.reduce(0) { $0 + ($1.storesFP32Weight ? 4 * $1.outFeatures * $1.inFeatures : 0) }
    }
}
