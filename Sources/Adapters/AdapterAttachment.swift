import Transformer

extension Adapter {
    /// Hooks every target module's `LowRankDelta` into `model` (unmerged path: `Linear.delta`), so each target's
    /// output becomes `x·Wᵀ + b + ((x·Aᵀ)·Rᵀ)·Bᵀ`; the base weights are not touched. Later `setParameters` calls
    /// take effect immediately. Do not also `merge` the same adapter (the delta would count twice).
    public func attach(to model: TransformerModel) throws {
        try checkShapes(model)
        for m in plan.modules { Adapter.linear(model, m).delta = deltas[m.index] }
    }

    /// Removes this adapter's hooks from `model` (the plan's target modules get no delta): the model computes
    /// exactly what it computed before `attach`.
    public func detach(from model: TransformerModel) {
        guard model.layers.count == plan.layerCount else { return }
        for m in plan.modules {
            let linear = Adapter.linear(model, m)
            if linear.delta === deltas[m.index] { linear.delta = nil }
        }
    }
}
