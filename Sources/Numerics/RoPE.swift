#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Rotary position embedding over heads of `headDim` (even) values.
///
/// Frequencies follow Hugging Face exactly, in fp32: `invFreq[i] = 1 / θ^(2i / headDim)` for
/// `i < headDim/2`, angle `a = Float(position) · invFreq[i]`, and `cos a`, `sin a` rounded to fp32.
///
/// - Rotate-half (HF Llama/Qwen2): value `i` pairs with `i + headDim/2`:
///   `x'[i] = x[i]·cos − x[i+h]·sin`, `x'[i+h] = x[i+h]·cos + x[i]·sin`.
/// - Interleaved (GPT-J / llama.cpp "normal" mode on permuted Q/K rows): value `2i` pairs with `2i + 1`.
public struct RoPE {
    public let headDim: Int
    public let theta: Double
    /// `[headDim / 2]`
    public let inverseFrequencies: [Float]

    public init(headDim: Int, theta: Double) {
        precondition(headDim > 0 && headDim % 2 == 0, "RoPE head dimension must be even")
        self.headDim = headDim
        self.theta = theta
        let base = Float(theta)
        inverseFrequencies = (0 ..< headDim / 2).map { i in
            1 / powf(base, Float(2 * i) / Float(headDim))
        }
    }

    /// `cos` and `sin` of every frequency at `position`, each `[headDim / 2]`, written to `cosOut`, `sinOut`.
    public func angles(position: Int, cos cosOut: UnsafeMutablePointer<Float>, sin sinOut: UnsafeMutablePointer<Float>) {
        for i in 0 ..< headDim / 2 {
            let a = Float(position) * inverseFrequencies[i]
            cosOut[i] = Float(cos(Double(a)))
            sinOut[i] = Float(sin(Double(a)))
        }
    }

    /// Rotates `heads` consecutive heads of `x` (`[heads, headDim]`) in place, rotate-half pairing.
    public func applyRotateHalf(_ x: UnsafeMutablePointer<Float>, heads: Int, cos c: UnsafePointer<Float>,
                                sin s: UnsafePointer<Float>) {
        let h = headDim / 2
        for head in 0 ..< heads {
            let p = x + head * headDim
            for i in 0 ..< h {
                let a = p[i], b = p[i + h]
                p[i] = a * c[i] - b * s[i]
                p[i + h] = b * c[i] + a * s[i]
            }
        }
    }

    /// Rotates `heads` consecutive heads of `x` in place, interleaved pairing (2i, 2i+1).
    public func applyInterleaved(_ x: UnsafeMutablePointer<Float>, heads: Int, cos c: UnsafePointer<Float>,
                                 sin s: UnsafePointer<Float>) {
        for head in 0 ..< heads {
            let p = x + head * headDim
            for i in 0 ..< headDim / 2 {
                let a = p[2 * i], b = p[2 * i + 1]
                p[2 * i] = a * c[i] - b * s[i]
                p[2 * i + 1] = b * c[i] + a * s[i]
            }
        }
    }
}
