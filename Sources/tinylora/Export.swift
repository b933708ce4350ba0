import Adapters
import ArgumentParser
import Foundation
import ModelFiles
import Transformer

/// `tinylora export`: an adapter in a format other tools load.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write an adapter as PEFT TinyLoRA, PEFT LoRA or llama.cpp GGUF LoRA (or a merged model).",
        discussion: """
        Formats: peft-tinylora (alias peft): a PEFT TinyLoRA directory (adapter_config.json, \
        adapter_model.safetensors; TinyLoRA adapters only). peft-lora (alias lora): a PEFT LoRA directory whose \
        A and B reproduce the adapter's updates. gguf-lora: a llama.cpp LoRA adapter GGUF (general.type = \
        adapter). gguf and safetensors: the merged model, like `tinylora merge` (GGUF weights as f32; \
        Hugging Face weights as f32). Prints the path written.
        """)

    @Option(help: "A built-in model name, a .gguf path or a Hugging Face model directory (the adapter's base).")
    var model: String

    @Option(help: "A native adapter file or a PEFT TinyLoRA directory (adapter_config.json).")
    var adapter: String

    @Option(name: [.customLong("format"), .customLong("to")],
            help: "peft-tinylora, peft-lora, gguf-lora, gguf (merged) or safetensors (merged).")
    var format: String

    @Option(help: "The directory or file to write.")
    var out: String

    @Option(help: "Worker threads for the SVDs (default: the number of CPUs).")
    var threads: Int?

    func run() throws {
        if let threads, threads < 1 { throw CLIError("--threads must be >= 1") }
        let formats = ["peft-tinylora", "peft", "peft-lora", "lora", "gguf-lora", "gguf", "safetensors"]
        let f = format.lowercased()
        guard formats.contains(f) else {
            throw CLIError("--format must be peft-tinylora, peft-lora, gguf-lora, gguf or safetensors, not '\(format)'")
        }
        try checkWritable(out)
        let opened = try OpenedModel(location: resolveModel(model),
                                     threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
        if f == "gguf" || f == "safetensors" {
            try writeMerged(opened: opened, adapterPath: adapter, out: out, toGGUF: f == "gguf", type: .f32,
                            dtype: .f32)
            print(out)
            return
        }
        let config = try opened.config()
        let weights = try opened.weightSource(config)
        let loaded = try loadAdapter(adapter, config: config, weights: weights, threads: opened.threads)
        let baseName = baseModelName(opened)
        do {
            switch f {
            case "peft-tinylora", "peft":
                try PEFTExport.write(adapter: loaded, to: out, baseModel: baseName)
            case "peft-lora", "lora":
                try LoRAExport.writePEFT(adapter: loaded, to: out, baseModel: baseName)
            default:
                var metadata: [String: GGUFValue] = [:]
                if let name = opened.gguf?.metadata["general.name"] { metadata["general.name"] = name }
                try LoRAExport.writeGGUF(adapter: loaded, config: config, to: out, baseMetadata: metadata)
            }
        } catch let error as AdapterError {
            throw CLIError("cannot write \(out): \(error.description)")
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError("cannot write \(out): \(writeErrorText(error))")
        }
        print(out)
    }

    /// The base model's name for PEFT's `base_model_name_or_path`: the GGUF's `general.name`, else the directory.
    func baseModelName(_ opened: OpenedModel) -> String {
        if let name = opened.gguf?.metadata["general.name"]?.string { return name }
        return opened.location.path
    }
}
