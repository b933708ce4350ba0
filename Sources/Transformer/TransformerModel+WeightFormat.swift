import Foundation
import Numerics

/// The number format the forward pass reads the weights of the linear layers in (the LM head included).
public enum WeightFormat: String, CaseIterable, Sendable {
    /// The fp32 weights as loaded (every product exact in fp32 up to summation order).
    case fp32
    /// A bf16 copy of every linear layer's weight (rounded to nearest even once); activations are rounded to
    /// bf16 per product, sums in fp32 (AVX-512 BF16 `vdpbf16ps`). Embeddings, norms, biases, attention's arithmetic
    /// and an adapter's low-rank path stay fp32; `makeCache` then stores keys and values in fp16 (generation's cache;
    /// log-probabilities and the backward keep fp32 caches). The backward pass uses the fp32 weights unless
    /// `useBackwardWeights(.bf16)`.
    case bf16
    /// The GGUF file's own quantized blocks (`QuantizedMatrix`): for ≤ 4 rows integer dot products on the blocks
    /// with x rounded to 16 bits per group of 32 (AVX-512 VNNI; else exact fp32 products of the decoded weights),
    /// above that W decoded a panel at a time into bf16 products (as `.bf16`). Layers the file stores as
    /// F32/F16/BF16 run in fp32; the adapter's low-rank path stays fp32; the cache is fp16 (as with `.bf16`).
    /// Forward only (rollouts, generation, evaluation): the backward uses fp32 or bf16. Needs a model loaded from a
    /// GGUF file.
    case native

    /// Parses a command-line value, naming the accepted ones when it is not one of them.
    public init(parsing text: String) throws {
        guard let format = WeightFormat(rawValue: text) else {
            throw TransformerError("unknown weight format '\(text)': use one of \(WeightFormat.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self = format
    }
}

extension TransformerModel {
    /// Every linear layer: the seven projections of each decoder layer, then the LM head.
    public var linearLayers: [Linear] {
        layers.flatMap { [$0.q, $0.k, $0.v, $0.o, $0.gate, $0.up, $0.down] } + [lmHead]
    }

    /// The format the forward pass currently uses: native when a linear layer runs from its quantized blocks,
    /// bf16 when every linear layer uses its bf16 copy, else fp32.
    public var weightFormat: WeightFormat {
        let all = linearLayers
        if all.contains(where: { $0.forwardUsesQuantized && $0.quantizedWeight != nil }) { return .native }
        return all.allSatisfy { $0.forwardUsesBF16 && $0.bf16Weight != nil } ? .bf16 : .fp32
    }

    /// Switches the forward pass (`forward`, generation, log-probabilities) to `format`.
    ///
    /// `.bf16` packs a bf16 copy of each linear layer that has none yet (the LM head split over `threads`, the
    /// other layers packed `threads` at a time), adding half the fp32 weight bytes to memory (~1 GB for a 0.5B
    /// model); it throws `BFloat16UnsupportedError` (and changes nothing) on a CPU without AVX-512 BF16.
    /// `.fp32` returns to the fp32 weights and frees the bf16 copies unless `keepPacked` (then a later switch back
    /// to `.bf16` costs nothing: training flips between bf16 rollouts and its fp32 backward this way).
    /// `.native` runs each linear layer from the GGUF file's quantized blocks (attached on first use; mapped from
    /// the file, so no copy), layers stored unquantized or modified since loading in fp32; it throws
    /// `NativeWeightsUnavailableError` for a model not loaded from GGUF. Leaving `.native` keeps the blocks
    /// attached when `keepPacked`. A model loaded with `LinearStorage.quantized` starts in `.native`; its other
    /// formats decode the blocks on demand (see `Linear`).
    /// A layer whose `weight` is assigned afterwards (a merge) drops its stale copies and runs in fp32.
    public func useWeights(_ format: WeightFormat, keepPacked: Bool = false) throws {
        let all = linearLayers
        switch format {
        case .fp32:
            for linear in all {
                if keepPacked { linear.forwardUsesBF16 = false } else { linear.dropBF16() }
                if keepPacked || !linear.storesFP32Weight { linear.forwardUsesQuantized = false } else { linear.dropQuantized() }
            }
        case .bf16:
            try packEachLinear { try $0.packBF16(threads: $1) }
            for linear in all {
                linear.forwardUsesBF16 = true
                linear.forwardUsesQuantized = false
            }
        case .native:
            try attachQuantizedBlocks()
            for linear in all {
                linear.forwardUsesQuantized = linear.quantizedWeight != nil
                if keepPacked { linear.forwardUsesBF16 = false } else { linear.dropBF16() }
            }
        }
    }

    /// Switches the backward pass's input gradients `dX = dY·W` of every linear layer to `format`.
    ///
    /// `.bf16` packs a bf16 copy of each layer's `Wᵀ` (another half of the fp32 weight bytes) and computes
    /// `dX = bf16(dY)·bf16(W)` summed in fp32, about twice as fast as fp32 on AVX-512 BF16; the adapter's own
    /// gradient path stays fp32. Combined with `useWeights(.bf16)` (the recording forward in bf16 too) the gradient
    /// is that of the bf16 model, within ~1% of the fp32 gradient (a test measures it). Throws
    /// `BFloat16UnsupportedError` (and changes nothing) on a CPU without AVX-512 BF16. `.fp32` returns to the fp32
    /// weights and frees the copies unless `keepPacked`.
    public func useBackwardWeights(_ format: WeightFormat, keepPacked: Bool = false) throws {
        let all = linearLayers
        switch format {
        case .native:
            throw TransformerError("the backward pass cannot run from the quantized blocks (native): use fp32 or bf16")
        case .fp32:
            for linear in all {
                if keepPacked { linear.backwardUsesBF16 = false } else { linear.dropBF16Transposed() }
            }
        case .bf16:
            try packEachLinear { try $0.packBF16Transposed(threads: $1) }
            for linear in all { linear.backwardUsesBF16 = true }
        }
    }

    /// Runs `pack(layer, threads)` on every linear layer: the LM head (the largest) split over `threads`, the
    /// others `threads` at a time with one thread each. Throws `BFloat16UnsupportedError` before packing anything
    /// on a CPU without AVX-512 BF16, else the first error a layer threw.
    private func packEachLinear(_ pack: @escaping @Sendable (Linear, Int) throws -> Void) throws {
        guard BFloat16.isSupported else { throw BFloat16UnsupportedError() }
        try pack(lmHead, threads)
        let rest = Array(linearLayers.dropLast())
        let lock = NSLock()
        var failure: Error?
        Parallel.forEach(count: rest.count, threads: threads) { i in
            do {
                try pack(rest[i], 1)
            } catch {
                lock.lock()
                failure = error
                lock.unlock()
            }
        }
        if let failure { throw failure }
    }

    /// The format the backward's input gradients currently use.
    public var backwardWeightFormat: WeightFormat {
        linearLayers.allSatisfy { $0.backwardUsesBF16 && $0.bf16TransposedWeight != nil } ? .bf16 : .fp32
    }

    /// Bytes held by the bf16 copies of the weights (0 when none are packed).
    public var bf16WeightBytes: Int {
        linearLayers.reduce(0) { $0 + ($1.bf16Weight?.byteCount ?? 0) + ($1.bf16TransposedWeight?.byteCount ?? 0) }
    }
}
