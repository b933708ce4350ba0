#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Numerics

/// Backward of the element-wise and row-wise kernels of the forward pass (gradients to the inputs only; the frozen
/// norm weights get none).
enum BackwardKernels {
    /// RMSNorm `y_i = x_i·s·γ_i` with `s = (mean(x²) + ε)^(-1/2)` per row of length `n`:
    /// `dx_j = s·γ_j·dy_j − (s³/n)·x_j·Σ_i dy_i·γ_i·x_i`. Adds dx to `dX` (`[rows, n]`).
    static func rmsNorm(_ x: UnsafePointer<Float>, weight γ: UnsafePointer<Float>, rows: Int, n: Int, eps: Float,
                        outputGradient dY: UnsafePointer<Float>, addingTo dX: UnsafeMutablePointer<Float>) {
        for row in 0 ..< rows {
            let xr = x + row * n, dyr = dY + row * n, dxr = dX + row * n
            let meanSquare = dot(xr, xr, count: n) / Float(n)
            let s = 1 / (meanSquare + eps).squareRoot()
            var projection: Float = 0
            for i in 0 ..< n { projection += dyr[i] * γ[i] * xr[i] }
            let c = s * s * s / Float(n) * projection
            for j in 0 ..< n { dxr[j] += s * γ[j] * dyr[j] - c * xr[j] }
        }
    }

    /// Rotate-half RoPE is a rotation per pair `(x_i, x_{i+h})` by angle a; its backward is the rotation by −a:
    /// `dx_i = dy_i·cos + dy_{i+h}·sin`, `dx_{i+h} = dy_{i+h}·cos − dy_i·sin`. In place on `[heads, headDim]`.
    static func ropeRotateHalf(_ d: UnsafeMutablePointer<Float>, heads: Int, headDim: Int, cos c: UnsafePointer<Float>,
                               sin s: UnsafePointer<Float>) {
        let h = headDim / 2
        for head in 0 ..< heads {
            let p = d + head * headDim
            for i in 0 ..< h {
                let a = p[i], b = p[i + h]
                p[i] = a * c[i] + b * s[i]
                p[i + h] = b * c[i] - a * s[i]
            }
        }
    }
}
