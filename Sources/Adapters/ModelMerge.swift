import Transformer

/// Base weights kept while an adapter is merged into a model, so that `unmerge` restores them exactly (the merge
/// writes `W + B·R·A` into a new array; nothing is subtracted back).
public final class MergedBase {
    fileprivate var kept: [(module: TargetModule, weight: [Float])]

    fileprivate init(kept: [(module: TargetModule, weight: [Float])]) { self.kept = kept }

    /// Restores the kept base weights into `model` (a second call does nothing).
    public func unmerge(from model: TransformerModel) {
        for (m, w) in kept { Adapter.linear(model, m).weight = w }
        kept = []
    }
}

extension Adapter {
    /// Replaces every target weight of `model` by `W + B·R·A`; returns the kept base weights.
    public func merge(into model: TransformerModel) throws -> MergedBase {
        try checkShapes(model)
        var kept: [(module: TargetModule, weight: [Float])] = []
        for m in plan.modules {
            let linear = Adapter.linear(model, m)
            let w = linear.weight
            linear.weight = deltas[m.index].merged(into: w)
            kept.append((m, w))
        }
        return MergedBase(kept: kept)
    }

    /// Throws unless `model` has the plan's layers and module shapes.
    public func checkShapes(_ model: TransformerModel) throws {
        guard model.layers.count == plan.layerCount else {
            throw AdapterError("the adapter was planned for \(plan.layerCount) layers, the model has \(model.layers.count)")
        }
        for m in plan.modules {
            let l = Adapter.linear(model, m)
            guard l.outFeatures == m.outFeatures, l.inFeatures == m.inFeatures else {
                throw AdapterError("\(m) is [\(l.outFeatures), \(l.inFeatures)] in the model, "
                    + "[\(m.outFeatures), \(m.inFeatures)] in the adapter")
            }
        }
    }

    static func linear(_ model: TransformerModel, _ m: TargetModule) -> Linear {
        targetLinear(model, layer: m.layer, kind: m.kind)
    }

    /// The linear layer of `kind` in layer `layer` of `model`.
    public static func targetLinear(_ model: TransformerModel, layer index: Int, kind: ModuleKind) -> Linear {
        let layer = model.layers[index]
        switch kind {
        case .q: return layer.q
        case .k: return layer.k
        case .v: return layer.v
        case .o: return layer.o
        case .gate: return layer.gate
        case .up: return layer.up
        case .down: return layer.down
        }
    }
}
