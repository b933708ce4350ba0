import Adapters
import ArgumentParser
import Foundation
import ModelFiles
import Transformer

/// The flags that size an adapter, shared by `plan` and `adapter init`.
struct AdapterSizingOptions: ParsableArguments {
    @Option(help: "Adapter kind: tinylora, loraxs or lora.")
    var kind: String = "tinylora"

    @Option(name: .customLong("r"), help: "Rank r of A, B and R.")
    var rank: Int = 2

    @Option(name: .customLong("u"), help: "TinyLoRA: length u of each trained vector v.")
    var u: Int = 1

    @Option(help: "Tie modules: 'all' (one group) or N (N consecutive modules in model order share values).")
    var tie: String?

    @Option(help: "Tiled tying: N consecutive modules in model order share values (the same as --tie N).")
    var tieEvery: Int?

    @Option(help: "PEFT's weight_tying ratio in [0, 1] (groups = max(1, round(modules·(1 − ratio)))).")
    var weightTying: Double?

    @Flag(help: "Structured tying: modules of the same kind share values (across --structured-layers layers).")
    var structured = false

    @Option(help: "With --structured: consecutive layers per group (default: all targeted layers).")
    var structuredLayers: Int?

    @Option(help: "Comma-separated target projections among q,k,v,o,gate,up,down (default: all seven).")
    var targets: String?

    @Option(help: "Targeted layers, inclusive: 'a-b' or a single layer 'a' (default: all).")
    var layers: String?

    @Option(help: "LoRA α (scale α/r; default r).")
    var alpha: Float?

    /// The configuration these flags describe (seed and value type as given).
    func configuration(seed: UInt64 = 42, dtype: ParameterDType = .fp32) throws -> AdapterConfiguration {
        let method = try AdapterMethod(parsing: kind)
        var structuredSize: Int? = nil
        if structured {
            structuredSize = structuredLayers ?? Tying.allLayers
        } else if structuredLayers != nil {
            throw CLIError("--structured-layers needs --structured")
        }
        if tie != nil && tieEvery != nil { throw CLIError("give either --tie or --tie-every, not both") }
        if let tieEvery, tieEvery < 1 { throw CLIError("--tie-every takes a positive number of modules, not \(tieEvery)") }
        let tying = try Tying(tie: tie ?? tieEvery.map(String.init), weightTying: weightTying, structured: structuredSize)
        let kinds = try targets.map(ModuleKind.parseList) ?? ModuleKind.allCases
        let layerRange = try layers.map(parseLayerRange)
        if method != .tinyLoRA, u != 1 { throw CLIError("--u applies only to --kind tinylora") }
        if method != .lora, alpha != nil { throw CLIError("--alpha applies only to --kind lora") }
        let c = AdapterConfiguration(method: method, rank: rank, u: u, alpha: alpha, tying: tying, seed: seed,
                                     targets: kinds, layers: layerRange, parameterDType: dtype)
        try c.validate()
        return c
    }
}

/// The tying for people: structured tying over all targeted layers shows as such (not as its huge layer count).
func tyingText(_ tying: Tying) -> String {
    switch tying {
    case .structured(let n) where n >= Tying.allLayers: "structured (by kind, all targeted layers)"
    case .structured(let n): "structured (by kind, \(n) layers per group)"
    case .tiled(let n): "every \(n) modules"
    case .ratio(let x): "weight tying ratio \(x)"
    default: tying.description
    }
}

/// Parses `a-b` (inclusive) or `a` into a half-open range.
func parseLayerRange(_ text: String) throws -> Range<Int> {
    let parts = text.split(separator: "-", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    guard (1 ... 2).contains(parts.count), let first = Int(parts[0]), let last = Int(parts.last!), first >= 0,
          last >= first else {
        throw CLIError("--layers takes 'a-b' (inclusive, a <= b) or a single layer number, not '\(text)'")
    }
    return first ..< last + 1
}

extension OpenedModel {
    /// The model's configuration from GGUF metadata or config.json, without reading any weight.
    func config() throws -> TransformerConfig {
        if let gguf { return try TransformerConfig(gguf: gguf) }
        let configPath = (location.path as NSString).appendingPathComponent("config.json")
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: configPath))
        } catch {
            throw CLIError("cannot read \(configPath): \((error as NSError).localizedDescription)")
        }
        return try TransformerConfig(huggingFaceConfig: data, source: configPath)
    }

    /// The model's weights, read (and dequantized to fp32) tensor by tensor on demand.
    func weightSource(_ config: TransformerConfig) throws -> WeightSource {
        if let gguf { return GGUFWeights(file: gguf, config: config) }
        return SafetensorsWeights(checkpoint: try SafetensorsCollection(directory: location.path), source: location.path)
    }
}

/// `--adapter FILE` on commands that run the model.
struct AdapterFileOption: ParsableArguments {
    @Option(help: "A native adapter file (from `tinylora adapter init` or training) or a PEFT TinyLoRA directory applied to the model; it must have been built from the same base weights.")
    var adapter: String?

    /// Reads and checks a native file (before any model is loaded, so a bad file fails fast); nil for no
    /// --adapter or a directory (a PEFT TinyLoRA directory is read against the model in `attach`).
    func read() throws -> AdapterFile? {
        guard let adapter else { return nil }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: adapter, isDirectory: &isDirectory), isDirectory.boolValue {
            return nil
        }
        return try AdapterFile.read(path: adapter)
    }

    /// Regenerates the adapter's frozen factors from the model's weights, checks the base fingerprint and attaches
    /// the adapter to `model` (unmerged). A PEFT TinyLoRA directory is imported with its stored factors.
    func attach(_ file: AdapterFile?, to model: TransformerModel, opened: OpenedModel) throws {
        guard let path = adapter else { return }
        do {
            guard let file else {
                let weights = try opened.weightSource(model.config)
                try loadAdapter(path, config: model.config, weights: weights, threads: opened.threads).attach(to: model)
                return
            }
            try file.checkShapes(model.config)
            let base = try FrozenBase.build(plan: try file.plan(), model: model.config,
                                            weights: try opened.weightSource(model.config), threads: opened.threads)
            try file.adapter(base: base).attach(to: model)
        } catch let error as AdapterError {
            throw CLIError("adapter \(path): \(error.description)")
        }
    }
}
