import Foundation
import ModelFiles
import Transformer

/// PEFT's TinyLoRA adapter directory (peft 0.21.2, `peft_type` "TINYLORA"):
/// - `adapter_config.json`: `r`, `u`, `weight_tying` (ratio in [0, 1]), `projection_seed`, `save_projection` (true),
///   `target_modules` (list of `q_proj` … `down_proj`), `layers_to_transform` (null = all layers, or a list),
///   `init_v_bound`, `tinylora_dropout` 0, `fan_in_fan_out` false, `bias` "none", and PEFT's other keys.
/// - `adapter_model.safetensors` (F32), for each target module at `base_model.model.model.layers.L.self_attn.q_proj`
///   (`mlp.` for gate/up/down): `….tinylora_A` `[r, in]`, `….tinylora_B` `[out, r]`, `….tinylora_P` `[u, r, r]`; and
///   one `base_model.tinylora_v.G` `[u]` per tying group G (PEFT's group of module i among the targets in model order
///   is `min(i div max(1, N div G), G − 1)` with `G = max(1, round(N·(1 − weight_tying)))`: our `Tying.ratio`).
/// ΔW = B·(Σᵢ vᵢ·Pᵢ)·A, all in Hugging Face weight layout.
public enum PEFTTinyLoRA {
    public static let configFile = "adapter_config.json"
    public static let weightsFile = "adapter_model.safetensors"

    /// The PEFT module path of a target (`base_model.model.model.layers.3.self_attn.q_proj`).
    public static func modulePath(_ m: TargetModule) -> String {
        let block = [.gate, .up, .down].contains(m.kind) ? "mlp" : "self_attn"
        return "base_model.model.model.layers.\(m.layer).\(block).\(m.kind.huggingFaceName)"
    }

    public static func vKey(group: Int) -> String { "base_model.tinylora_v.\(group)" }

    /// PEFT's `weight_tying` ratio that groups the plan's modules exactly as the plan does; throws when none does
    /// (e.g. structured tying, which PEFT cannot express).
    public static func weightTying(_ plan: AdapterPlan) throws -> Double {
        switch plan.configuration.tying {
        case .none: return 0
        case .all: return 1
        case .ratio(let x): return x
        case .tiled, .structured:
            let n = plan.modules.count
            let ratio = 1 - Double(plan.groupCount) / Double(n)
            let peft = Tying.ratio(ratio).groups(of: plan.modules, firstLayer: plan.layers.lowerBound)
            guard peft.count == plan.groupCount, peft.groupOfModule == plan.groupOfModule else {
                throw AdapterError("PEFT's weight_tying cannot express \(plan.configuration.tying) tying of "
                    + "\(n) modules in \(plan.groupCount) groups")
            }
            return ratio
        }
    }
}

/// Writes a TinyLoRA adapter as a PEFT TinyLoRA directory (see `PEFTTinyLoRA`).
public enum PEFTExport {
    /// Writes `adapter_config.json` and `adapter_model.safetensors` into `directory` (created if missing).
    /// `baseModel` goes to `base_model_name_or_path`.
    public static func write(adapter: Adapter, to directory: String, baseModel: String? = nil) throws {
        let plan = adapter.plan
        let c = plan.configuration
        guard c.method == .tinyLoRA else {
            throw AdapterError("PEFT TinyLoRA export needs a TinyLoRA adapter, not \(c.method) (use LoRAExport)")
        }
        let tying = try PEFTTinyLoRA.weightTying(plan)
        let allLayers = plan.layers == 0 ..< plan.layerCount
        let config: [String: Any] = [
            "peft_type": "TINYLORA",
            "peft_version": "0.21.2",
            "base_model_name_or_path": baseModel ?? NSNull(),
            "r": c.rank,
            "u": c.u,
            "weight_tying": tying,
            "projection_seed": c.seed,
            "save_projection": true,
            "init_v_bound": 0.02,
            "target_modules": c.targets.map(\.huggingFaceName),
            "tinylora_dropout": 0.0,
            "fan_in_fan_out": false,
            "bias": "none",
            "modules_to_save": NSNull(),
            "init_weights": true,
            "layers_to_transform": allLayers ? NSNull() as Any : Array(plan.layers) as Any,
            "layers_pattern": NSNull(),
            "inference_mode": true,
            "revision": NSNull(),
            "task_type": "CAUSAL_LM",
        ]
        var writer = SafetensorsWriter(metadata: ["format": "pt"])
        for m in plan.modules {
            let path = PEFTTinyLoRA.modulePath(m)
            let d = adapter.deltas[m.index]
            try writer.addTensor(name: path + ".tinylora_A", shape: [c.rank, m.inFeatures], values: d.a, as: .f32)
            try writer.addTensor(name: path + ".tinylora_B", shape: [m.outFeatures, c.rank], values: d.b, as: .f32)
            try writer.addTensor(name: path + ".tinylora_P", shape: [c.u, c.rank, c.rank],
                                 values: adapter.projections[m.index], as: .f32)
        }
        for g in 0 ..< plan.groupCount {
            try writer.addTensor(name: PEFTTinyLoRA.vKey(group: g), shape: [c.u],
                                 values: Array(adapter.parameters[g * c.u ..< (g + 1) * c.u]), as: .f32)
        }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let json = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
        try json.write(to: URL(fileURLWithPath: directory).appendingPathComponent(PEFTTinyLoRA.configFile),
                       options: .atomic)
        try writer.write(to: (directory as NSString).appendingPathComponent(PEFTTinyLoRA.weightsFile))
    }
}

/// Reads a PEFT TinyLoRA directory into an `Adapter` on a base model, taking A, B, P and v from the file (so the
/// adapter computes exactly PEFT's ΔW); the base weights are read only to fingerprint them.
public enum PEFTImport {
    public static func read(directory: String, model: TransformerConfig, weights: WeightSource) throws -> Adapter {
        let dir = URL(fileURLWithPath: directory)
        let configURL = dir.appendingPathComponent(PEFTTinyLoRA.configFile)
        guard let data = try? Data(contentsOf: configURL) else {
            throw AdapterError("\(directory) has no readable \(PEFTTinyLoRA.configFile)")
        }
        guard let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw AdapterError("\(configURL.path) is not a JSON object")
        }
        let configuration = try configurationOf(json)
        let plan = try AdapterPlan(configuration: configuration, model: model)
        let file = try SafetensorsFile(path: dir.appendingPathComponent(PEFTTinyLoRA.weightsFile).path)
        let r = configuration.rank, u = configuration.u

        func tensor(_ name: String, _ shape: [Int]) throws -> [Float] {
            guard let info = file.tensorInfo(name) else { throw AdapterError("the PEFT adapter has no tensor \(name)") }
            guard info.shape == shape else {
                throw AdapterError("\(name) has shape \(info.shape), expected \(shape)")
            }
            let values = try file.floats(info)
            if let i = values.firstIndex(where: { !$0.isFinite }) {
                throw AdapterError("\(name) value \(i) is not finite")
            }
            return values
        }

        var factors: [ModuleFactors] = []
        var projections: [[Float]] = []
        var digests: [[UInt8]] = []
        for m in plan.modules {
            let path = PEFTTinyLoRA.modulePath(m)
            let a = try tensor(path + ".tinylora_A", [r, m.inFeatures])
            let b = try tensor(path + ".tinylora_B", [m.outFeatures, r])
            guard let p = file.tensorInfo(path + ".tinylora_P") != nil ? try tensor(path + ".tinylora_P", [u, r, r]) : nil
            else {
                throw AdapterError("the PEFT adapter has no \(path).tinylora_P (saved with save_projection=false?); "
                    + "its projections come from torch's generator and cannot be rebuilt here")
            }
            factors.append(try ModuleFactors(rank: r, outFeatures: m.outFeatures, inFeatures: m.inFeatures, a: a, b: b))
            projections.append(p)
            guard let w = try weights.tensor(m.tensorName, shape: m.tensorName.shape(model)) else {
                throw AdapterError("the base model has no tensor \(m.tensorName.huggingFace)")
            }
            digests.append(w.withUnsafeBufferPointer { BaseFingerprint.digest(of: $0) })
        }
        let vNames = file.names.filter { $0.hasPrefix("base_model.tinylora_v.") }
        guard vNames.count == plan.groupCount else {
            throw AdapterError("the PEFT adapter has \(vNames.count) tinylora_v groups, its configuration gives "
                + "\(plan.groupCount)")
        }
        var v: [Float] = []
        for g in 0 ..< plan.groupCount { v += try tensor(PEFTTinyLoRA.vKey(group: g), [u]) }
        let base = try FrozenBase(plan: plan, factors: factors,
                                  fingerprint: BaseFingerprint.combine(plan.modules, digests: digests))
        return try Adapter(base: base, parameters: v, projections: projections)
    }

    /// Our configuration for a PEFT TinyLoRA `adapter_config.json`.
    static func configurationOf(_ json: [String: Any]) throws -> AdapterConfiguration {
        guard json["peft_type"] as? String == "TINYLORA" else {
            throw AdapterError("peft_type is \(json["peft_type"] ?? "missing"), expected TINYLORA")
        }
        guard let r = json["r"] as? Int, let u = json["u"] as? Int else {
            throw AdapterError("adapter_config.json needs integer r and u")
        }
        let tying = (json["weight_tying"] as? NSNumber)?.doubleValue ?? 0
        if json["fan_in_fan_out"] as? Bool == true { throw AdapterError("fan_in_fan_out adapters are not supported") }
        if let bias = json["bias"] as? String, bias != "none" { throw AdapterError("bias '\(bias)' is not supported") }
        if let saved = json["modules_to_save"], !(saved is NSNull) {
            throw AdapterError("modules_to_save is not supported")
        }
        let targets: [ModuleKind]
        if let list = json["target_modules"] as? [String] {
            targets = try list.map { try ModuleKind(parsing: $0) }
        } else {
            throw AdapterError("target_modules must be a list of q_proj … down_proj names")
        }
        var layers: Range<Int>?
        switch json["layers_to_transform"] {
        case nil, is NSNull: layers = nil
        case let n as Int: layers = n ..< n + 1
        case let list as [Int]:
            let sorted = list.sorted()
            guard let first = sorted.first, sorted == Array(first ..< first + sorted.count) else {
                throw AdapterError("layers_to_transform \(list) is not a contiguous range of layers")
            }
            layers = first ..< first + sorted.count
        default: throw AdapterError("layers_to_transform must be null, an integer or a list of integers")
        }
        let seed = (json["projection_seed"] as? NSNumber)?.int64Value ?? 42
        return AdapterConfiguration(method: .tinyLoRA, rank: r, u: u,
                                    tying: tying == 0 ? .none : .ratio(tying), seed: UInt64(bitPattern: seed),
                                    targets: targets, layers: layers)
    }
}
