import Numerics

/// One pre-norm decoder block of Llama/Qwen2:
///
///     h = RMSNorm(x)·γ₁;  q = h·Wqᵀ (+bq), k = h·Wkᵀ (+bk), v = h·Wvᵀ (+bv)     [T, H·d], [T, KV·d], [T, KV·d]
///     q, k ← RoPE (rotate-half) at each row's position;  k, v → cache
///     x ← x + Attention(q, cache)·Woᵀ                                         [T, hidden]
///     h = RMSNorm(x)·γ₂;  x ← x + (SiLU(h·Wgateᵀ) ⊙ h·Wupᵀ)·Wdownᵀ              [T, ffn] → [T, hidden]
public final class DecoderLayer {
    public var inputNorm: [Float]
    public let q: Linear
    public let k: Linear
    public let v: Linear
    public let o: Linear
    public var postAttentionNorm: [Float]
    public let gate: Linear
    public let up: Linear
    public let down: Linear

    public init(inputNorm: [Float], q: Linear, k: Linear, v: Linear, o: Linear, postAttentionNorm: [Float],
                gate: Linear, up: Linear, down: Linear) {
        self.inputNorm = inputNorm
        self.q = q
        self.k = k
        self.v = v
        self.o = o
        self.postAttentionNorm = postAttentionNorm
        self.gate = gate
        self.up = up
        self.down = down
    }

    /// Loads layer `index` from `weights` (biases only when the config has them). With `blocks`, a projection
    /// stored quantized keeps only its blocks (`Linear(quantized:)`).
    convenience init(index i: Int, config c: TransformerConfig, weights: WeightSource,
                     blocks: QuantizedWeightSource? = nil) throws {
        func load(_ t: TensorName.LayerTensor) throws -> [Float] {
            let name = TensorName.layer(i, t)
            guard let values = try weights.tensor(name, shape: name.shape(c)) else {
                throw TransformerError("missing weight \(name.huggingFace) (\(name.gguf) in GGUF)")
            }
            return values
        }
        func linear(_ w: TensorName.LayerTensor, _ b: TensorName.LayerTensor?) throws -> Linear {
            let shape = TensorName.layer(i, w).shape(c)
            if let q = try blocks?.quantizedMatrix(.layer(i, w), shape: shape) {
                return try Linear(quantized: q, bias: try b.map(load))
            }
            return try Linear(weight: try load(w), bias: try b.map(load), outFeatures: shape[0], inFeatures: shape[1])
        }
        let bias = c.attentionBias
        self.init(inputNorm: try load(.inputNorm),
                  q: try linear(.qWeight, bias ? .qBias : nil),
                  k: try linear(.kWeight, bias ? .kBias : nil),
                  v: try linear(.vWeight, bias ? .vBias : nil),
                  o: try linear(.oWeight, nil),
                  postAttentionNorm: try load(.postAttentionNorm),
                  gate: try linear(.gateWeight, nil),
                  up: try linear(.upWeight, nil),
                  down: try linear(.downWeight, nil))
    }

    /// Runs the block on `x` `[T, hidden]` in place, appending this batch's keys and values to `cache`.
    func forward(_ x: UnsafeMutablePointer<Float>, layout: BatchLayout, cache: KVCache, layer: Int,
                 config c: TransformerConfig, rope: RoPE, ropeTables: RoPETables, scratch s: Scratch, threads: Int) {
        attentionBlock(x, layout: layout, cache: cache, layer: layer, config: c, rope: rope, ropeTables: ropeTables,
                       scratch: s, threads: threads)
        mlpBlock(x, rows: layout.tokenCount, config: c, scratch: s, threads: threads)
    }

    /// `x ← x + Attention(RoPE(h·Wqᵀ + bq), cache ∪ RoPE(h·Wkᵀ + bk), cache ∪ (h·Wvᵀ + bv))·Woᵀ` with
    /// `h = RMSNorm(x)·γ₁`; the new keys (after RoPE) and values are written to the cache at their positions.
    func attentionBlock(_ x: UnsafeMutablePointer<Float>, layout: BatchLayout, cache: KVCache, layer: Int,
                        config c: TransformerConfig, rope: RoPE, ropeTables: RoPETables, scratch s: Scratch,
                        threads: Int) {
        let t = layout.tokenCount
        inputNorm.withUnsafeBufferPointer {
            Kernels.rmsNorm(x, weight: $0.baseAddress!, rows: t, n: c.hiddenSize, eps: c.rmsNormEpsilon, into: s.normed)
        }
        Linear.forward([q, k, v], sharedInput: s.normed, rows: t, into: [s.q, s.k, s.v], threads: threads)
        for row in 0 ..< t {
            let cosRow = ropeTables.cos + row * ropeTables.width, sinRow = ropeTables.sin + row * ropeTables.width
            rope.applyRotateHalf(s.q + row * c.queryDim, heads: c.headCount, cos: cosRow, sin: sinRow)
            rope.applyRotateHalf(s.k + row * c.kvDim, heads: c.kvHeadCount, cos: cosRow, sin: sinRow)
            cache.store(layer: layer, slot: layout.slots[row], position: layout.positions[row],
                        key: s.k + row * c.kvDim, value: s.v + row * c.kvDim)
        }
        Attention.forward(q: s.q, layout: layout, cache: cache, layer: layer, heads: c.headCount,
                          kvHeads: c.kvHeadCount, headDim: c.headDim, into: s.attention, threads: threads)
        o.forward(s.attention, rows: t, into: s.projected, threads: threads)
        Kernels.add(s.projected, into: x, count: t * c.hiddenSize)
    }

    /// `x ← x + (SiLU(h·Wgateᵀ) ⊙ h·Wupᵀ)·Wdownᵀ` with `h = RMSNorm(x)·γ₂`.
    func mlpBlock(_ x: UnsafeMutablePointer<Float>, rows t: Int, config c: TransformerConfig, scratch s: Scratch,
                  threads: Int) {
        postAttentionNorm.withUnsafeBufferPointer {
            Kernels.rmsNorm(x, weight: $0.baseAddress!, rows: t, n: c.hiddenSize, eps: c.rmsNormEpsilon, into: s.normed)
        }
        Linear.forward([gate, up], sharedInput: s.normed, rows: t, into: [s.gate, s.up], threads: threads)
        Kernels.siluMul(gate: s.gate, up: s.up, count: t * c.intermediateSize, into: s.gate)
        down.forward(s.gate, rows: t, into: s.projected, threads: threads)
        Kernels.add(s.projected, into: x, count: t * c.hiddenSize)
    }
}

/// Gradient buffers of one block's backward over `T` rows (reused by every layer): the SwiGLU product `act` and its
/// gradient `dAct` `[T, ffn]`, `dh` `[T, hidden]`, `dAttention` and `dq` `[T, H·d]`, `dk` and `dv` `[T, KV·d]`.
final class BackwardScratch {
    let act, dAct, dh, dAttention, dq, dk, dv: UnsafeMutablePointer<Float>

    init(rows t: Int, config c: TransformerConfig) {
        func make(_ width: Int) -> UnsafeMutablePointer<Float> { zeroedRows(t, width) }
        act = make(c.intermediateSize)
        dAct = make(c.intermediateSize)
        dh = make(c.hiddenSize)
        dAttention = make(c.queryDim)
        dq = make(c.queryDim)
        dk = make(c.kvDim)
        dv = make(c.kvDim)
    }

    deinit {
        for p in [act, dAct, dh, dAttention, dq, dk, dv] { p.deallocate() }
    }
}

/// `cos` and `sin` of every RoPE frequency for every row of a batch: each `[T, headDim/2]`.
struct RoPETables {
    let cos: UnsafeMutablePointer<Float>
    let sin: UnsafeMutablePointer<Float>
    let width: Int

    init(rope: RoPE, positions: [Int]) {
        width = rope.headDim / 2
        cos = .allocate(capacity: max(1, positions.count * width))
        sin = .allocate(capacity: max(1, positions.count * width))
        for (row, p) in positions.enumerated() {
            rope.angles(position: p, cos: cos + row * width, sin: sin + row * width)
        }
    }

    func deallocate() {
        cos.deallocate()
        sin.deallocate()
    }
}

/// Activation buffers for one forward pass of `T` rows, reused by every layer.
final class Scratch {
    let normed, q, k, v, attention, projected, gate, up: UnsafeMutablePointer<Float>

    init(rows t: Int, config c: TransformerConfig) {
        func make(_ width: Int) -> UnsafeMutablePointer<Float> { zeroedRows(t, width) }
        normed = make(c.hiddenSize)
        q = make(c.queryDim)
        k = make(c.kvDim)
        v = make(c.kvDim)
        attention = make(c.queryDim)
        projected = make(c.hiddenSize)
        gate = make(c.intermediateSize)
        up = make(c.intermediateSize)
    }

    deinit {
        for p in [normed, q, k, v, attention, projected, gate, up] { p.deallocate() }
    }
}

/// A zero-filled `[rows, width]` fp32 buffer (at least one element), owned by the caller.
private func zeroedRows(_ rows: Int, _ width: Int) -> UnsafeMutablePointer<Float> {
    let p = UnsafeMutablePointer<Float>.allocate(capacity: max(1, rows * width))
    p.initialize(repeating: 0, count: max(1, rows * width))
    return p
}
