import CBLAS
import Numerics

/// A linear layer `y = x·Wᵀ + b` with `W` `[outFeatures, inFeatures]` (HF layout) and optional bias `[outFeatures]`.
///
/// Every projection of the model is one of these, so an adapter joins in one place: with `delta` set, the output
/// is `x·Wᵀ + b + delta(x)` (the delta added after the base product and the bias).
public final class Linear {
    public let outFeatures: Int
    public let inFeatures: Int
    /// `[outFeatures, inFeatures]`, row-major.
    public var weight: [Float]
    /// `[outFeatures]` or nil.
    public var bias: [Float]?
    /// An adapter's term added to the output (nil: plain linear).
    public var delta: LinearDelta?

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

    /// `y[rows, out] = x[rows, in]·Wᵀ + b (+ delta(x))`.
    public func forward(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, threads: Int) {
        weight.withUnsafeBufferPointer { w in
            MatMul.xWt(x, rows: rows, w.baseAddress!, outFeatures: outFeatures, inFeatures: inFeatures,
                       into: y, threads: threads)
        }
        if let bias {
            bias.withUnsafeBufferPointer { Kernels.addBias($0.baseAddress!, rows: rows, n: outFeatures, into: y) }
        }
        delta?.addDelta(x, rows: rows, into: y, threads: threads)
    }

    /// Backward to the input: `dX[rows, in] (+)= dY[rows, out]·W` (plus the delta's `dY·ΔW`, whose own parameter
    /// gradient the delta accumulates from `x`). The frozen `W` and bias get no gradient. `x` is the forward input.
    public func backward(_ x: UnsafePointer<Float>, rows: Int, outputGradient dY: UnsafePointer<Float>,
                         into dX: UnsafeMutablePointer<Float>, accumulate: Bool, threads: Int) {
        guard rows > 0 else { return }
        let n = inFeatures, k = outFeatures
        let parts = rows * n * k < 1 << 16 ? 1 : threads
        weight.withUnsafeBufferPointer { w in
            Parallel.forRanges(total: n, parts: parts, alignment: 16, threads: threads) { cols in
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(cols.count), Int32(k),
                            1, dY, Int32(k), w.baseAddress! + cols.lowerBound, Int32(n),
                            accumulate ? 1 : 0, dX + cols.lowerBound, Int32(n))
            }
        }
        delta?.backward(x, rows: rows, outputGradient: dY, addingInputGradientTo: dX, threads: threads)
    }
}
