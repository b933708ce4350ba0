import ModelFiles

/// Weights of a Hugging Face checkpoint (one or several safetensors files), converted to fp32 on request.
/// HF tensors are already in the engine's layout; only names and shapes are checked.
public struct SafetensorsWeights: WeightSource {
    public let checkpoint: SafetensorsCollection
    public let source: String

    public init(checkpoint: SafetensorsCollection, source: String) {
        self.checkpoint = checkpoint
        self.source = source
    }

    public func tensor(_ name: TensorName, shape: [Int]) throws -> [Float]? {
        guard let (file, info) = checkpoint.tensor(name.huggingFace) else { return nil }
        guard info.shape == shape else {
            throw TransformerError("\(source): tensor \(name.huggingFace) has shape \(info.shape), expected \(shape)")
        }
        do {
            return try file.floats(info)
        } catch {
            throw TransformerError("\(source): tensor \(name.huggingFace): \(error)")
        }
    }
}
