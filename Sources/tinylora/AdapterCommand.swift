import Adapters
import ArgumentParser
import Foundation
import ModelFiles
import Numerics

/// `tinylora adapter init|info`: native adapter files.
struct AdapterCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "adapter",
        abstract: "Create and inspect native adapter files.",
        subcommands: [AdapterInit.self, AdapterInfo.self])
}

struct AdapterInit: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Build an adapter's frozen factors for a model and write its native file.",
        discussion: """
        Computes the top-r SVD of every target weight (TinyLoRA, LoRA-XS) and the base fingerprint, then writes \
        the trained values with their initial values (TinyLoRA v = 0, so the adapted model equals the base; \
        LoRA-XS R ~ N(0, 1e-5²); LoRA A Kaiming-uniform, B = 0). The file stores only the header and the trained \
        values; loading regenerates A, B and P. For testing an adapter's effect, --random-v replaces the trained \
        values by random ones, seeded by --seed: z ~ N(0, 1) scaled by X/√u (X = --random-scale, default 0.1; \
        TinyLoRA divides by √u, so that R = Σ v_i·P_i has entries ~ N(0, X²/r) whatever u; LoRA-XS draws R \
        ~ N(0, X²/r) directly; LoRA draws only B, ~ N(0, X²)). Then ΔW = B·R·A is a small multiple (about X) of \
        each weight's top-r part: with X = 0.1 SmolLM2's top-40 logits move by up to 0.6 (LoRA) to 2.6 (TinyLoRA, \
        LoRA-XS) and Qwen2.5's top ones by about 0.6, the top token staying, while unscaled N(0, 1) values turn \
        the output into garbage. --random-std X instead draws \
        every trained value from N(0, X²) as it is. Prints the path written.
        """)

    @Option(help: "A built-in model name, a .gguf path or a Hugging Face model directory.")
    var model: String

    @OptionGroup var sizing: AdapterSizingOptions

    @Option(help: "Seed of P (TinyLoRA), the initial R (LoRA-XS) or A (LoRA), and of --random-v.")
    var seed: UInt64 = 42

    @Option(help: "Storage type of the trained values: fp32, bf16 or fp16.")
    var dtype: String = "fp32"

    @Flag(help: "Replace the trained values by N(0, 1) draws scaled by --random-scale/√u (to test an adapter's effect; see above).")
    var randomV = false

    @Option(help: "With --random-v: the scale X (default 0.1).")
    var randomScale: Float?

    @Option(help: "Draw every trained value from N(0, X²), unscaled (instead of --random-v).")
    var randomStd: Float?

    @Option(help: "Worker threads for the SVDs (default: the number of CPUs).")
    var threads: Int?

    @Option(help: "The adapter file to write (atomically).")
    var out: String

    func run() throws {
        if let randomStd, !(randomStd.isFinite && randomStd > 0) {
            throw CLIError("--random-std must be a positive number, not \(randomStd)")
        }
        if let randomScale, !(randomScale.isFinite && randomScale > 0) {
            throw CLIError("--random-scale must be a positive number, not \(randomScale)")
        }
        if randomStd != nil && (randomV || randomScale != nil) {
            throw CLIError("give either --random-v [--random-scale X] or --random-std X, not both")
        }
        if randomScale != nil && !randomV { throw CLIError("--random-scale needs --random-v") }
        if let threads, threads < 1 { throw CLIError("--threads must be >= 1") }
        let configuration = try sizing.configuration(seed: seed, dtype: try ParameterDType(parsing: dtype))
        let opened = try OpenedModel(location: resolveModel(model),
                                     threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
        do {
            let config = try opened.config()
            let plan = try AdapterPlan(configuration: configuration, model: config)
            let base = try FrozenBase.build(plan: plan, model: config, weights: try opened.weightSource(config),
                                            threads: opened.threads)
            let adapter = try Adapter(base: base)
            if let randomStd {
                try adapter.setParameters(randomValues(plan, initial: adapter.parameters, std: randomStd))
            } else if randomV {
                let std = Self.randomVStandardDeviation(plan.configuration, scale: randomScale ?? 0.1)
                try adapter.setParameters(randomValues(plan, initial: adapter.parameters, std: std))
            }
            try AdapterFile(adapter).write(to: out)
        } catch let error as AdapterError {
            throw CLIError(error.description)
        }
        print(out)
    }

    /// The standard deviation of --random-v's values: X/√u for TinyLoRA (R = Σ_i v_i·P_i with P ~ N(0, 1/r) then has
    /// entries of variance u·(X²/u)·(1/r) = X²/r), X/√r for LoRA-XS (R's entries directly ~ N(0, X²/r)), X for LoRA's B.
    static func randomVStandardDeviation(_ c: AdapterConfiguration, scale: Float) -> Float {
        switch c.method {
        case .tinyLoRA: scale / Float(c.u).squareRoot()
        case .loraXS: scale / Float(c.rank).squareRoot()
        case .lora: scale
        }
    }

    /// N(0, std²) values from `Xoshiro256StarStar(seed: seed, stream: 0x7261_6e64)` ("rand"): all trained values,
    /// or for LoRA only each module's B (A keeps its initial values).
    func randomValues(_ plan: AdapterPlan, initial: [Float], std: Float) -> [Float] {
        var rng = Xoshiro256StarStar(seed: seed, stream: 0x7261_6E64)
        guard plan.configuration.method == .lora else {
            return rng.normalFloats(count: initial.count, standardDeviation: std)
        }
        var values = initial
        let r = plan.configuration.rank
        for m in plan.modules {
            let start = plan.loraOffset(module: m.index) + r * m.inFeatures
            let b = rng.normalFloats(count: m.outFeatures * r, standardDeviation: std)
            values.replaceSubrange(start ..< start + b.count, with: b)
        }
        return values
    }
}

struct AdapterInfo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Print a native adapter file's header (no model is loaded).",
        discussion: """
        JSON form: {"path", "file_bytes", "method", "r", "u", "alpha", "tying", "seed", "targets", "layers" \
        ([first, end)), "base_layers", "modules", "groups", "dtype", "trainable_parameters", "fingerprint"}.
        """)

    @Argument(help: "The adapter file.")
    var file: String

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() throws {
        let adapter: AdapterFile
        let plan: AdapterPlan
        do {
            adapter = try AdapterFile.read(path: file)
            plan = try adapter.plan()
        } catch let error as AdapterError {
            throw CLIError(error.description)
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? NSNumber)?.intValue ?? 0
        let c = plan.configuration
        let fields: [(String, String, String)] = [  // (text label, JSON key, JSON value)
            ("path", "path", JSON.string(file)),
            ("file bytes", "file_bytes", "\(size)"),
            ("method", "method", JSON.string(c.method.description)),
            ("r", "r", "\(c.rank)"),
            ("u", "u", "\(c.method == .tinyLoRA ? c.u : 0)"),
            ("alpha", "alpha", JSON.number(c.alpha)),
            ("tying", "tying", JSON.string(c.tying.description)),
            ("seed", "seed", "\(c.seed)"),
            ("targets", "targets", "[" + c.targets.map { JSON.string($0.description) }.joined(separator: ",") + "]"),
            ("layers", "layers", "[\(plan.layers.lowerBound),\(plan.layers.upperBound)]"),
            ("base layers", "base_layers", "\(plan.layerCount)"),
            ("modules", "modules", "\(plan.modules.count)"),
            ("groups", "groups", "\(plan.groupCount)"),
            ("dtype", "dtype", JSON.string(c.parameterDType.description)),
            ("trainable parameters", "trainable_parameters", "\(plan.trainableParameterCount)"),
            ("base fingerprint", "fingerprint", JSON.string(adapter.fingerprint.description)),
        ]
        if json {
            print(JSON.object(fields.map { ($0.1, $0.2) }))
            return
        }
        let text: [(String, String)] = [
            ("path", file), ("file bytes", "\(size)"), ("method", c.method.description), ("r", "\(c.rank)"),
            ("u", c.method == .tinyLoRA ? "\(c.u)" : "-"), ("alpha", c.method == .lora ? "\(c.alpha)" : "-"),
            ("tying", tyingText(c.tying)), ("seed", "\(c.seed)"),
            ("targets", c.targets.map(\.description).joined(separator: ",")),
            ("layers", "\(plan.layers.lowerBound)-\(plan.layers.upperBound - 1) of \(plan.layerCount)"),
            ("modules", "\(plan.modules.count)"), ("groups", "\(plan.groupCount)"),
            ("dtype", c.parameterDType.description),
            ("trainable parameters", "\(plan.trainableParameterCount)"),
            ("base fingerprint", adapter.fingerprint.description),
        ]
        let width = text.map(\.0.count).max() ?? 0
        for (k, v) in text { print(k.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + v) }
    }
}
