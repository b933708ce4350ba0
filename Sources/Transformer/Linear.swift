import Numerics

/// A linear layer `y = x·Wᵀ + b` with `W` `[outFeatures, inFeatures]` (HF layout) and optional bias `[outFeatures]`.
///
/// Every projection of the model is one of these, so a low-rank adapter path can later be added in one place
/// (`forward` is where `y += (x·Aᵀ)·Bᵀ`-style terms would join).
public final class Linear {
    public let outFeatures: Int
    public let inFeatures: Int
    /// `[outFeatures, inFeatures]`, row-major.
    public var weight: [Float]
    /// `[outFeatures]` or nil.
    public var bias: [Float]?

    public init(weight: [Float], bias: [Float]? = nil, outFeatures: Int, inFeatures: Int) throws {
        guard weight.count == outFeatures * inFeatures else {
            throw TransformerError("linear layer: \(weight.count) weights for shape [\(outFeatures), \(inFeatures)]")
        }
        if let bias, bias.count != outFeatures {
            throw TransformerError("linear layer: bias of \(bias.count) values for \(outFeatures) outputs")
        }
        self.weight = weight
        self.bias = bias
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
    }

    /// `y[rows, out] = x[rows, in]·Wᵀ + b`.
    public func forward(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, threads: Int) {
        weight.withUnsafeBufferPointer { w in
            MatMul.xWt(x, rows: rows, w.baseAddress!, outFeatures: outFeatures, inFeatures: inFeatures,
                       into: y, threads: threads)
        }
        if let bias {
            bias.withUnsafeBufferPointer { Kernels.addBias($0.baseAddress!, rows: rows, n: outFeatures, into: y) }
        }
    }
}
