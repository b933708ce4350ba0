import CBLAS
import Numerics

/// A linear layer `y = x·Wᵀ + b` with `W` `[outFeatures, inFeatures]` (HF layout) and optional bias `[outFeatures]`.
///
/// Every projection of the model is one of these, so an adapter joins in one place: with `delta` set, the output
/// is `x·Wᵀ + b + delta(x)` (the delta added after the base product and the bias).
///
/// The forward pass can run from a bf16 copy of `W` (`packBF16`, then `forwardUsesBF16 = true`): the base product
/// becomes `bf16(x)·bf16(W)ᵀ` summed in fp32 (`PackedBF16Matrix`); bias and delta are unchanged (the delta's
/// low-rank path stays fp32). Likewise `backward` can run from a packed bf16 copy of `Wᵀ` (`packBF16Transposed`,
/// then `backwardUsesBF16 = true`): `dX = bf16(dY)·bf16(W)`; the delta's own backward stays fp32.
///
/// The forward can also run from the GGUF tensor's own quantized blocks (`attachQuantized`, then
/// `forwardUsesQuantized = true`; `QuantizedMatrix`), with bias and delta unchanged. A layer made with
/// `init(quantized:bias:)` holds only those blocks: its fp32 `weight` is never stored, and reading it (the fp32 or
/// bf16 forward, the backward, packing, merges) decodes the blocks on demand (O(out·in) per read, no copy kept).
public final class Linear {
    public let outFeatures: Int
    public let inFeatures: Int
    /// The stored fp32 weights (nil when the layer holds only its quantized blocks).
    private var fp32Weight: [Float]?
    /// `[outFeatures, inFeatures]`, row-major: the stored fp32 weights, or the quantized blocks decoded on demand
    /// when the layer holds only those. Assigning it stores fp32 weights and drops the bf16 and quantized copies
    /// (which would be stale); the layer then counts as modified (`weightModified`).
    public var weight: [Float] {
        get { fp32Weight ?? quantizedWeight!.dequantized() }
        set {
            fp32Weight = newValue
            bf16Weight = nil
            bf16TransposedWeight = nil
            quantizedWeight = nil
            forwardUsesQuantized = false
            weightModified = true
        }
    }
    /// Whether the fp32 weights are stored (false: only the quantized blocks are).
    public var storesFP32Weight: Bool { fp32Weight != nil }
    /// Whether `weight` was assigned since construction (a merge): the file's blocks no longer describe it.
    public private(set) var weightModified = false
    /// The weights as the GGUF file's own quantized blocks (nil unless attached or built with them).
    public private(set) var quantizedWeight: QuantizedMatrix?
    /// Whether `forward` uses `quantizedWeight` (when it exists) instead of `weight` or `bf16Weight`.
    public var forwardUsesQuantized = false
    /// `weight` rounded to bf16 and packed for the bf16 kernel (nil until `packBF16`).
    public private(set) var bf16Weight: PackedBF16Matrix?
    /// Whether `forward` uses `bf16Weight` (when it exists) instead of `weight`.
    public var forwardUsesBF16 = false
    /// `Wᵀ` (`[inFeatures, outFeatures]`) rounded to bf16 and packed, for the backward's `dX = dY·W` written as
    /// `dY·(Wᵀ)ᵀ` (nil until `packBF16Transposed`).
    public private(set) var bf16TransposedWeight: PackedBF16Matrix?
    /// Whether `backward` uses `bf16TransposedWeight` (when it exists) instead of `weight`.
    public var backwardUsesBF16 = false
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
        self.fp32Weight = weight
        self.bias = bias
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
    }

    /// A layer holding only `quantized` (its fp32 weights are never stored), forward from the blocks.
    public init(quantized: QuantizedMatrix, bias: [Float]? = nil) throws {
        if let bias, bias.count != quantized.outFeatures {
            throw TransformerError("linear layer: bias of \(bias.count) values for \(quantized.outFeatures) outputs")
        }
        quantizedWeight = quantized
        forwardUsesQuantized = true
        self.bias = bias
        outFeatures = quantized.outFeatures
        inFeatures = quantized.inFeatures
    }

    /// Keeps `quantized` (the same weights as the file's blocks) beside the fp32 weights, for `forwardUsesQuantized`.
    public func attachQuantized(_ quantized: QuantizedMatrix) throws {
        guard quantized.outFeatures == outFeatures, quantized.inFeatures == inFeatures else {
            throw TransformerError("linear layer [\(outFeatures), \(inFeatures)]: quantized weights of shape [\(quantized.outFeatures), \(quantized.inFeatures)]")
        }
        quantizedWeight = quantized
    }

    /// Releases `quantizedWeight` and goes back to the fp32 (or bf16) forward; no-op when the blocks are the only
    /// storage.
    public func dropQuantized() {
        guard fp32Weight != nil else { return }
        quantizedWeight = nil
        forwardUsesQuantized = false
    }

    /// Makes `bf16Weight` from the current `weight` if there is none (packing split over `threads`). Throws
    /// `BFloat16UnsupportedError` on a CPU without AVX-512 BF16.
    public func packBF16(threads: Int) throws {
        guard bf16Weight == nil else { return }
        bf16Weight = try weight.withUnsafeBufferPointer {
            try PackedBF16Matrix($0.baseAddress!, outFeatures: outFeatures, inFeatures: inFeatures, threads: threads)
        }
    }

    /// Releases `bf16Weight` (and goes back to the fp32 forward).
    public func dropBF16() {
        bf16Weight = nil
        forwardUsesBF16 = false
    }

    /// Makes `bf16TransposedWeight` from the current `weight` if there is none. Throws `BFloat16UnsupportedError`
    /// on a CPU without AVX-512 BF16.
    public func packBF16Transposed(threads: Int) throws {
        guard bf16TransposedWeight == nil else { return }
        let n = outFeatures, k = inFeatures
        var transposed = [Float](repeating: 0, count: n * k)
        weight.withUnsafeBufferPointer { w in
            transposed.withUnsafeMutableBufferPointer { t in
                for o in 0 ..< n {
                    for i in 0 ..< k { t[i * n + o] = w[o * k + i] }
                }
            }
        }
        bf16TransposedWeight = try transposed.withUnsafeBufferPointer {
            try PackedBF16Matrix($0.baseAddress!, outFeatures: k, inFeatures: n, threads: threads)
        }
    }

    /// Releases `bf16TransposedWeight` (and goes back to the fp32 backward).
    public func dropBF16Transposed() {
        bf16TransposedWeight = nil
        backwardUsesBF16 = false
    }

    /// `y[rows, out] = x[rows, in]·Wᵀ + b (+ delta(x))`.
    public func forward(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, threads: Int) {
        if forwardUsesQuantized, let quantized = quantizedWeight {
            quantized.xWt(x, rows: rows, into: y, threads: threads)
        } else if let packed = forwardBF16Weight {
            packed.xWt(x, rows: rows, into: y, threads: threads)
        } else {
            weight.withUnsafeBufferPointer { w in
                MatMul.xWt(x, rows: rows, w.baseAddress!, outFeatures: outFeatures, inFeatures: inFeatures,
                           into: y, threads: threads)
            }
        }
        addBiasAndDelta(x, rows: rows, into: y, threads: threads)
    }

    /// The bf16 copy `forward` multiplies with (nil when it uses the quantized blocks or the fp32 weights).
    private var forwardBF16Weight: PackedBF16Matrix? {
        guard !(forwardUsesQuantized && quantizedWeight != nil), forwardUsesBF16 else { return nil }
        return bf16Weight
    }

    /// `y += b (+ delta(x))`: what `forward` adds after the base product.
    private func addBiasAndDelta(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, threads: Int) {
        if let bias {
            bias.withUnsafeBufferPointer { Kernels.addBias($0.baseAddress!, rows: rows, n: outFeatures, into: y) }
        }
        delta?.addDelta(x, rows: rows, into: y, threads: threads)
    }

    /// `forward` of several layers on one input (a block's q, k and v, or gate and up): `y_i = x·W_iᵀ + b_i
    /// (+ delta_i(x))`, the same values as calling `layers[i].forward(x, rows:, into: outputs[i])` in turn. When every
    /// layer runs from its bf16 copy, their base products are one shared-input bf16 pass
    /// (`PackedBF16Matrix.xWt(_:rows:matrices:into:)`, bit for bit the separate products); otherwise the layers run
    /// one after the other.
    public static func forward(_ layers: [Linear], sharedInput x: UnsafePointer<Float>, rows: Int,
                               into outputs: [UnsafeMutablePointer<Float>], threads: Int) {
        precondition(layers.count == outputs.count, "linear layers on one input: \(layers.count) layers, \(outputs.count) outputs")
        let packed = layers.compactMap(\.forwardBF16Weight)
        guard layers.count > 1, packed.count == layers.count,
              layers.allSatisfy({ $0.inFeatures == layers[0].inFeatures }) else {
            for (layer, y) in zip(layers, outputs) { layer.forward(x, rows: rows, into: y, threads: threads) }
            return
        }
        PackedBF16Matrix.xWt(x, rows: rows, matrices: packed, into: outputs, threads: threads)
        for (layer, y) in zip(layers, outputs) { layer.addBiasAndDelta(x, rows: rows, into: y, threads: threads) }
    }

    /// Backward to the input: `dX[rows, in] (+)= dY[rows, out]·W` (plus the delta's `dY·ΔW`, whose own parameter
    /// gradient the delta accumulates from `x`). The frozen `W` and bias get no gradient. `x` is the forward input.
    public func backward(_ x: UnsafePointer<Float>, rows: Int, outputGradient dY: UnsafePointer<Float>,
                         into dX: UnsafeMutablePointer<Float>, accumulate: Bool, threads: Int) {
        guard rows > 0 else { return }
        if backwardUsesBF16, let packed = bf16TransposedWeight {
            packed.xWt(dY, rows: rows, into: dX, accumulate: accumulate, threads: threads)
            delta?.backward(x, rows: rows, outputGradient: dY, addingInputGradientTo: dX, threads: threads)
            return
        }
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
