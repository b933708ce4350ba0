import Foundation
import Transformer

/// Tiny random models built in memory, and a naive Double-precision reference forward pass to check them.
enum Synthetic {
    struct Rng {
        var state: UInt64
        mutating func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2_000_001 - 1_000_000) / 1_000_000
        }
        mutating func array(_ n: Int, scale: Float) -> [Float] { (0 ..< n).map { _ in next() * scale } }
    }

    static func config(architecture: Architecture = .llama, heads: Int = 4, kvHeads: Int = 2, tied: Bool = true,
                       bias: Bool = false) -> TransformerConfig {
        try! TransformerConfig(architecture: architecture, vocabularySize: 61, hiddenSize: 32, intermediateSize: 48,
                               layerCount: 2, headCount: heads, kvHeadCount: kvHeads, headDim: 8, rmsNormEpsilon: 1e-5,
                               ropeTheta: 10000, contextLength: 64, tiedEmbeddings: tied, attentionBias: bias)
    }

    static func weights(_ c: TransformerConfig, seed: UInt64 = 7) -> InMemoryWeights {
        var rng = Rng(state: seed)
        var t: [TensorName: [Float]] = [:]
        func add(_ name: TensorName, scale: Float, offset: Float = 0) {
            t[name] = rng.array(name.shape(c).reduce(1, *), scale: scale).map { $0 + offset }
        }
        add(.embedding, scale: 1)
        add(.finalNorm, scale: 0.2, offset: 1)
        if !c.tiedEmbeddings { add(.lmHead, scale: 0.5) }
        for l in 0 ..< c.layerCount {
            add(.layer(l, .inputNorm), scale: 0.2, offset: 1)
            add(.layer(l, .postAttentionNorm), scale: 0.2, offset: 1)
            for w: TensorName.LayerTensor in [.qWeight, .kWeight, .vWeight, .oWeight, .gateWeight, .upWeight, .downWeight] {
                add(.layer(l, w), scale: 0.4)
            }
            if c.attentionBias {
                for b: TensorName.LayerTensor in [.qBias, .kBias, .vBias] { add(.layer(l, b), scale: 0.3) }
            }
        }
        return InMemoryWeights(t)
    }

    /// Logits of every position of `tokens` run alone from an empty cache, straight from the definitions
    /// (HF Llama/Qwen2 math) in Double: `[tokens.count][vocab]`.
    static func referenceLogits(_ c: TransformerConfig, _ w: InMemoryWeights, tokens: [Int]) -> [[Double]] {
        func get(_ n: TensorName) -> [Double] { w.tensors[n]!.map(Double.init) }
        func linear(_ x: [Double], _ wt: [Double], out: Int) -> [Double] {
            let k = x.count
            return (0 ..< out).map { o in (0 ..< k).reduce(0.0) { $0 + x[$1] * wt[o * k + $1] } }
        }
        func rms(_ x: [Double], _ g: [Double]) -> [Double] {
            let ms = x.reduce(0) { $0 + $1 * $1 } / Double(x.count)
            let s = 1 / (ms + Double(c.rmsNormEpsilon)).squareRoot()
            return zip(x, g).map { $0 * s * $1 }
        }
        func rope(_ v: [Double], heads: Int, position: Int) -> [Double] {
            var r = v
            let d = c.headDim, h2 = d / 2
            for h in 0 ..< heads {
                for i in 0 ..< h2 {
                    let a = Double(position) / pow(c.ropeTheta, Double(2 * i) / Double(d))
                    let x0 = v[h * d + i], x1 = v[h * d + i + h2]
                    r[h * d + i] = x0 * cos(a) - x1 * sin(a)
                    r[h * d + i + h2] = x1 * cos(a) + x0 * sin(a)
                }
            }
            return r
        }
        let e = get(.embedding)
        var xs = tokens.map { Array(e[$0 * c.hiddenSize ..< ($0 + 1) * c.hiddenSize]) }
        for l in 0 ..< c.layerCount {
            var ks: [[Double]] = [], vs: [[Double]] = []
            var qs: [[Double]] = []
            for (p, x) in xs.enumerated() {
                let h = rms(x, get(.layer(l, .inputNorm)))
                var q = linear(h, get(.layer(l, .qWeight)), out: c.queryDim)
                var k = linear(h, get(.layer(l, .kWeight)), out: c.kvDim)
                var v = linear(h, get(.layer(l, .vWeight)), out: c.kvDim)
                if c.attentionBias {
                    q = zip(q, get(.layer(l, .qBias))).map(+)
                    k = zip(k, get(.layer(l, .kBias))).map(+)
                    v = zip(v, get(.layer(l, .vBias))).map(+)
                }
                qs.append(rope(q, heads: c.headCount, position: p))
                ks.append(rope(k, heads: c.kvHeadCount, position: p))
                vs.append(v)
            }
            for p in 0 ..< xs.count {
                var attn = [Double](repeating: 0, count: c.queryDim)
                for h in 0 ..< c.headCount {
                    let g = h / (c.headCount / c.kvHeadCount), d = c.headDim
                    let scores = (0 ... p).map { j in
                        (0 ..< d).reduce(0.0) { $0 + qs[p][h * d + $1] * ks[j][g * d + $1] } / Double(d).squareRoot()
                    }
                    let m = scores.max()!
                    let ex = scores.map { exp($0 - m) }
                    let z = ex.reduce(0, +)
                    for j in 0 ... p {
                        for i in 0 ..< d { attn[h * d + i] += ex[j] / z * vs[j][g * d + i] }
                    }
                }
                let o = linear(attn, get(.layer(l, .oWeight)), out: c.hiddenSize)
                xs[p] = zip(xs[p], o).map(+)
                let h = rms(xs[p], get(.layer(l, .postAttentionNorm)))
                let gt = linear(h, get(.layer(l, .gateWeight)), out: c.intermediateSize)
                let up = linear(h, get(.layer(l, .upWeight)), out: c.intermediateSize)
                let act = zip(gt, up).map { $0 / (1 + exp(-$0)) * $1 }
                xs[p] = zip(xs[p], linear(act, get(.layer(l, .downWeight)), out: c.hiddenSize)).map(+)
            }
        }
        let head = c.tiedEmbeddings ? e : get(.lmHead)
        return xs.map { linear(rms($0, get(.finalNorm)), head, out: c.vocabularySize) }
    }
}
