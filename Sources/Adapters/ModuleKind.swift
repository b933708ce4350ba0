import Foundation
import Transformer

/// The seven linear projections of a decoder block that adapters can target, in model order
/// (attention q, k, v, o, then MLP gate, up, down — the order of `named_modules()` in transformers).
public enum ModuleKind: Int, CaseIterable, Sendable, Comparable, CustomStringConvertible {
    case q, k, v, o, gate, up, down

    public static func < (a: ModuleKind, b: ModuleKind) -> Bool { a.rawValue < b.rawValue }

    /// Short name used on the command line and in files: q, k, v, o, gate, up, down.
    public var description: String {
        switch self {
        case .q: "q"
        case .k: "k"
        case .v: "v"
        case .o: "o"
        case .gate: "gate"
        case .up: "up"
        case .down: "down"
        }
    }

    /// The Hugging Face / PEFT module name (`q_proj`, ..., `down_proj`).
    public var huggingFaceName: String { description + "_proj" }

    /// The weight tensor of this projection.
    public var tensor: TensorName.LayerTensor {
        switch self {
        case .q: .qWeight
        case .k: .kWeight
        case .v: .vWeight
        case .o: .oWeight
        case .gate: .gateWeight
        case .up: .upWeight
        case .down: .downWeight
        }
    }

    /// `[out, in]` of this projection in a model with configuration `c`.
    public func shape(_ c: TransformerConfig) -> (out: Int, in: Int) {
        let s = TensorName.layer(0, tensor).shape(c)
        return (s[0], s[1])
    }

    /// Parses `q`, `q_proj` (and the other names), case-insensitively.
    public init(parsing text: String) throws {
        let name = text.lowercased().hasSuffix("_proj") ? String(text.lowercased().dropLast(5)) : text.lowercased()
        guard let kind = ModuleKind.allCases.first(where: { $0.description == name }) else {
            throw AdapterError("unknown target module '\(text)' (expected q, k, v, o, gate, up or down)")
        }
        self = kind
    }

    /// Parses a comma-separated list (`q,k,v,o,gate,up,down`); the result is in model order without duplicates.
    public static func parseList(_ text: String) throws -> [ModuleKind] {
        let parts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !parts.isEmpty else { throw AdapterError("empty target module list") }
        return Array(Set(try parts.map { try ModuleKind(parsing: $0) })).sorted()
    }

    /// Bit `rawValue` set for each kind (the file header's target set).
    public static func mask(_ kinds: [ModuleKind]) -> UInt8 {
        kinds.reduce(0) { $0 | UInt8(1 << $1.rawValue) }
    }

    public static func kinds(mask: UInt8) -> [ModuleKind] {
        allCases.filter { mask & UInt8(1 << $0.rawValue) != 0 }
    }
}

/// One adapted linear layer: its position in model order among the targets (`index`), its layer and kind.
public struct TargetModule: Equatable, Sendable, CustomStringConvertible {
    public let index: Int
    public let layer: Int
    public let kind: ModuleKind
    public let outFeatures: Int
    public let inFeatures: Int

    public init(index: Int, layer: Int, kind: ModuleKind, outFeatures: Int, inFeatures: Int) {
        self.index = index
        self.layer = layer
        self.kind = kind
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
    }

    /// The weight's tensor name.
    public var tensorName: TensorName { .layer(layer, kind.tensor) }

    /// `layers.<layer>.<kind>` (e.g. `layers.3.gate`).
    public var description: String { "layers.\(layer).\(kind)" }
}
