/// A trainable additive term on a `Linear` layer's output (an adapter such as LoRA / TinyLoRA):
/// `y = x·Wᵀ + b + f(x)`, where `f` is linear in `x` (`f(x) = x·ΔWᵀ` for some `ΔW` `[out, in]` never formed).
///
/// Shapes: `x` `[rows, in]`, `y`, `dY` `[rows, out]`, `dX` `[rows, in]`, all row-major fp32.
public protocol LinearDelta: AnyObject {
    /// `y += f(x)`, called after the base product and the bias.
    func addDelta(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, threads: Int)

    /// Backward of `f` for one batch of rows: accumulates the gradient of the delta's own parameters
    /// (the caller's loss, given `dY = ∂L/∂y`) into the delta's gradient storage, and adds `dY·ΔW` (= ∂L/∂x through
    /// `f`) to `dX`. Called once per forward call that used the delta.
    func backward(_ x: UnsafePointer<Float>, rows: Int, outputGradient dY: UnsafePointer<Float>,
                  addingInputGradientTo dX: UnsafeMutablePointer<Float>, threads: Int)
}
