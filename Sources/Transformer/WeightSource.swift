/// Where a model's fp32 weights come from (a GGUF file, a Hugging Face directory, or arrays built in memory).
///
/// Every tensor is returned in Hugging Face layout and values: row-major, outermost dimension first
/// (`[out, in]` for a linear layer), with any file-format quirk (such as llama GGUF's permuted Q/K rows)
/// already undone.
public protocol WeightSource {
    /// The tensor's fp32 values, or nil when the source has no tensor of that name. Throws when it exists but
    /// its shape differs from `shape` or it cannot be decoded.
    func tensor(_ name: TensorName, shape: [Int]) throws -> [Float]?
}

/// Weights held in a dictionary (tests and synthetic models).
public struct InMemoryWeights: WeightSource {
    public var tensors: [TensorName: [Float]]

    public init(_ tensors: [TensorName: [Float]] = [:]) { self.tensors = tensors }

    public func tensor(_ name: TensorName, shape: [Int]) throws -> [Float]? {
        guard let t = tensors[name] else { return nil }
        guard t.count == shape.reduce(1, *) else {
            throw TransformerError("tensor \(name.huggingFace) has \(t.count) values, expected shape \(shape)")
        }
        return t
    }
}
