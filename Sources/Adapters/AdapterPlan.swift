import Foundation
import Transformer

/// Where an adapter goes in a model and how big it is: the target modules in model order, their tying groups and
/// the trainable parameter count.
///
/// Trainable parameters: TinyLoRA groups × u; LoRA-XS groups × r²; LoRA Σ over modules r·(in + out).
/// Bytes = parameters × width (fp32 4, bf16/fp16 2).
public struct AdapterPlan: Equatable, Sendable {
    /// The configuration, with `layers` resolved to the targeted range.
    public let configuration: AdapterConfiguration
    /// Layers of the base model.
    public let layerCount: Int
    /// The targeted layers.
    public let layers: Range<Int>
    public let modules: [TargetModule]
    /// Group of each module (same order as `modules`).
    public let groupOfModule: [Int]
    public let groupCount: Int
    /// `[out, in]` of each of the seven kinds in this model (also for kinds not targeted).
    public let shapes: [ModuleKind: (out: Int, in: Int)]

    public static func == (a: AdapterPlan, b: AdapterPlan) -> Bool {
        a.configuration == b.configuration && a.layerCount == b.layerCount && a.modules == b.modules
            && a.groupOfModule == b.groupOfModule
    }

    public init(configuration: AdapterConfiguration, model: TransformerConfig) throws {
        var shapes: [ModuleKind: (out: Int, in: Int)] = [:]
        for kind in ModuleKind.allCases { shapes[kind] = kind.shape(model) }
        try self.init(configuration: configuration, layerCount: model.layerCount, shapes: shapes)
    }

    /// A plan for a model of `layerCount` layers whose projections have the given `[out, in]` shapes.
    public init(configuration: AdapterConfiguration, layerCount: Int, shapes: [ModuleKind: (out: Int, in: Int)]) throws {
        try configuration.validate()
        guard layerCount >= 1 else { throw AdapterError("the model has no layers") }
        let layers = configuration.layers ?? 0 ..< layerCount
        guard layers.lowerBound >= 0, layers.upperBound <= layerCount, !layers.isEmpty else {
            throw AdapterError("layer range \(layers.lowerBound)..<\(layers.upperBound) is empty or outside the "
                + "model's \(layerCount) layers")
        }
        var modules: [TargetModule] = []
        for layer in layers {
            for kind in configuration.targets {
                guard let s = shapes[kind], s.out > 0, s.in > 0 else {
                    throw AdapterError("no shape for target module \(kind)")
                }
                guard configuration.method == .lora || configuration.rank <= min(s.out, s.in) else {
                    throw AdapterError("rank \(configuration.rank) exceeds the [\(s.out), \(s.in)] \(kind) projection")
                }
                modules.append(TargetModule(index: modules.count, layer: layer, kind: kind, outFeatures: s.out,
                                            inFeatures: s.in))
            }
        }
        let (groupOfModule, groupCount) = configuration.tying.groups(of: modules, firstLayer: layers.lowerBound)
        var resolved = configuration
        resolved.layers = layers
        self.configuration = resolved
        self.layerCount = layerCount
        self.layers = layers
        self.modules = modules
        self.groupOfModule = groupOfModule
        self.groupCount = groupCount
        self.shapes = shapes
    }

    /// Trained values per tying group (TinyLoRA u, LoRA-XS r²); 0 for LoRA (not grouped).
    public var parametersPerGroup: Int {
        switch configuration.method {
        case .tinyLoRA: configuration.u
        case .loraXS: configuration.rank * configuration.rank
        case .lora: 0
        }
    }

    public var trainableParameterCount: Int {
        switch configuration.method {
        case .tinyLoRA, .loraXS: groupCount * parametersPerGroup
        case .lora: modules.reduce(0) { $0 + configuration.rank * ($1.inFeatures + $1.outFeatures) }
        }
    }

    public func bytes(_ dtype: ParameterDType) -> Int { trainableParameterCount * dtype.byteWidth }

    /// Offset of module `index`'s LoRA A `[r, in]` (followed by its B `[out, r]`) in the flat parameter vector.
    public func loraOffset(module index: Int) -> Int {
        modules[..<index].reduce(0) { $0 + configuration.rank * ($1.inFeatures + $1.outFeatures) }
    }
}

extension AdapterPlan {
    /// A JSON object describing the plan (keys sorted): `method`, `r`, `u`, `alpha`, `tying`, `seed`, `targets`,
    /// `layers` ([first, end)), `modules`, `groups`, `trainable_parameters`, `bytes_fp32`, `bytes_bf16`,
    /// `bytes_fp16`.
    public var jsonSummary: String {
        let c = configuration
        let object: [String: Any] = [
            "method": c.method.description,
            "r": c.rank,
            "u": c.method == .tinyLoRA ? c.u : 0,
            "alpha": Double(c.alpha),
            "tying": c.tying.description,
            "seed": c.seed,
            "targets": c.targets.map(\.description),
            "layers": [layers.lowerBound, layers.upperBound],
            "modules": modules.count,
            "groups": groupCount,
            "trainable_parameters": trainableParameterCount,
            "bytes_fp32": bytes(.fp32),
            "bytes_bf16": bytes(.bf16),
            "bytes_fp16": bytes(.fp16),
        ]
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }
}
