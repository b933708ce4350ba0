import Adapters
import ArgumentParser
import Foundation
import ModelFiles

struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show where an adapter goes in a model and how many values it trains.",
        discussion: """
        Reads only the model's configuration (GGUF metadata or config.json), no weights. Modules are numbered in \
        model order (layer 0: q, k, v, o, gate, up, down among the targets, then layer 1, ...); a tying group \
        shares one v (TinyLoRA) or one R (LoRA-XS). JSON form: the keys of the plan (method, r, u, alpha, tying, \
        seed, targets, layers [first, end), modules, groups, trainable_parameters, bytes_fp32, bytes_bf16, \
        bytes_fp16) plus group_modules: the module names (layers.L.kind) of each group.
        """)

    @Option(help: "A built-in model name, a .gguf path or a Hugging Face model directory.")
    var model: String

    @OptionGroup var sizing: AdapterSizingOptions

    @Flag(help: "Print one JSON object.")
    var json = false

    func run() throws {
        let configuration = try sizing.configuration()
        let opened = try OpenedModel(location: resolveModel(model), threads: 1)
        let plan: AdapterPlan
        do {
            plan = try AdapterPlan(configuration: configuration, model: try opened.config())
        } catch let error as AdapterError {
            throw CLIError(error.description)
        }
        var groups = [[String]](repeating: [], count: plan.groupCount)
        for m in plan.modules where plan.configuration.method != .lora {
            groups[plan.groupOfModule[m.index]].append(m.description)
        }
        if json {
            // jsonSummary's keys, plus the module list of each group.
            guard var object = try JSONSerialization.jsonObject(with: Data(plan.jsonSummary.utf8)) as? [String: Any] else {
                throw CLIError("internal error: the plan summary is not a JSON object")
            }
            object["group_modules"] = groups
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            print(String(decoding: data, as: UTF8.self))
            return
        }
        let c = plan.configuration
        var rows: [(String, String)] = [
            ("kind", c.method.description),
            ("r", "\(c.rank)"),
        ]
        if c.method == .tinyLoRA { rows.append(("u", "\(c.u)")) }
        if c.method == .lora { rows.append(("alpha", "\(c.alpha)")) }
        rows += [
            ("tying", tyingText(c.tying)),
            ("targets", c.targets.map(\.description).joined(separator: ",")),
            ("layers", "\(plan.layers.lowerBound)-\(plan.layers.upperBound - 1) of \(plan.layerCount)"),
            ("modules", "\(plan.modules.count)"),
            ("groups", c.method == .lora ? "-" : "\(plan.groupCount)"),
            ("trainable parameters", "\(plan.trainableParameterCount)"),
            ("bytes fp32", "\(plan.bytes(.fp32))"),
            ("bytes bf16", "\(plan.bytes(.bf16))"),
            ("bytes fp16", "\(plan.bytes(.fp16))"),
        ]
        let width = rows.map(\.0.count).max() ?? 0
        for (k, v) in rows { print(k.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + v) }
        if c.method != .lora {
            print("")
            print("group  modules")
            for (g, names) in groups.enumerated() {
                let shown = names.count <= 8 ? names.joined(separator: " ")
                    : (names.prefix(4) + ["... (\(names.count) modules) ..."] + names.suffix(2)).joined(separator: " ")
                print(String(g).padding(toLength: 5, withPad: " ", startingAt: 0) + "  " + shown)
            }
        }
    }
}
