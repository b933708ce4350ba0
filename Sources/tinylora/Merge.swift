import Adapters
import ArgumentParser
import Foundation
import ModelFiles
import Tokenizers
import Transformer

/// `tinylora merge`: the base model with an adapter merged into its weights (`W' = W + B·R·A`), written as a
/// GGUF or a Hugging Face directory that any tool loads without knowing about adapters.
struct Merge: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write the model with an adapter merged into its weights (GGUF or Hugging Face directory).",
        discussion: """
        --out ending in .gguf writes a GGUF (the model must be a GGUF): every tensor and metadata entry is \
        copied, target weights are replaced by their merged values stored as --type (f32, f16, bf16 or q8_0). \
        Any other --out is a Hugging Face directory: config.json, model.safetensors (--dtype f32 or bf16) and the \
        tokenizer files, copied from a Hugging Face source or, from a GGUF, written from its tokenizer metadata \
        (tokenizer.json, tokenizer_config.json with the chat template, special_tokens_map.json, \
        generation_config.json; they tokenize exactly as llama.cpp does the GGUF). Prints the path written.
        """)

    @Option(help: "A built-in model name, a .gguf path or a Hugging Face model directory (the adapter's base).")
    var model: String

    @Option(help: "A native adapter file or a PEFT TinyLoRA directory (adapter_config.json).")
    var adapter: String

    @Option(help: "Output: a .gguf file or a Hugging Face model directory.")
    var out: String

    @Option(help: "GGUF output: type of the merged weights, f32, f16, bf16 or q8_0.")
    var type: String = "f32"

    @Option(help: "Hugging Face output: type of model.safetensors, f32 or bf16.")
    var dtype: String = "f32"

    @Option(help: "Worker threads for the SVDs (default: the number of CPUs).")
    var threads: Int?

    func run() throws {
        if let threads, threads < 1 { throw CLIError("--threads must be >= 1") }
        let toGGUF = out.lowercased().hasSuffix(".gguf")
        let ggmlType = try parseMergeType(type)
        let safetensorsType = try parseMergeDType(dtype)
        try checkWritable(out)
        let opened = try OpenedModel(location: resolveModel(model),
                                     threads: threads ?? ProcessInfo.processInfo.activeProcessorCount)
        try writeMerged(opened: opened, adapterPath: adapter, out: out, toGGUF: toGGUF, type: ggmlType,
                        dtype: safetensorsType)
        print(out)
    }
}

/// Loads the adapter against `opened` and writes the merged model to `out` (a GGUF of the GGUF source, or a
/// Hugging Face directory with the tokenizer files of the source: copied, or made from the GGUF's tokenizer).
func writeMerged(opened: OpenedModel, adapterPath: String, out: String, toGGUF: Bool, type: GGMLType,
                 dtype: SafetensorsDType) throws {
    if toGGUF && opened.gguf == nil {
        throw CLIError("a merged GGUF needs a GGUF model; \(opened.location.path) is a Hugging Face directory")
    }
    let config = try opened.config()
    let weights = try opened.weightSource(config)
    let loaded = try loadAdapter(adapterPath, config: config, weights: weights, threads: opened.threads)
    do {
        if let gguf = opened.gguf, toGGUF {
            try MergedExport.writeGGUF(adapter: loaded, source: gguf, config: config, to: out, type: type)
        } else {
            var tokenizerFiles: [String] = []
            var files: [String: Data] = [:]
            var extraConfig: [String: Any] = [:]
            if let gguf = opened.gguf {
                // The GGUF's tokenizer as Hugging Face files; config.json gets the same special token ids. A GGUF
                // whose tokenizer cannot be expressed (not byte-level BPE) still gives the model, without them.
                do {
                    files = try Tokenizer.huggingFaceFiles(gguf: gguf)
                } catch let error as TokenizerError {
                    FileHandle.standardError.write(Data("warning: \(out) gets no tokenizer files: \(error.description)\n".utf8))
                }
                if let data = files["generation_config.json"],
                   let generation = try JSONSerialization.jsonObject(with: data) as? [String: Any] {
                    extraConfig = generation
                }
            } else {
                for name in huggingFaceTokenizerFileNames {
                    let p = (opened.location.path as NSString).appendingPathComponent(name)
                    if FileManager.default.fileExists(atPath: p) { tokenizerFiles.append(p) }
                }
            }
            try MergedExport.writeHuggingFace(adapter: loaded, config: config, weights: weights, to: out,
                                              dtype: dtype, extraConfig: extraConfig,
                                              tokenizerFiles: tokenizerFiles, files: files)
        }
    } catch let error as AdapterError {
        throw CLIError("cannot write \(out): \(error.description)")
    } catch let error as CLIError {
        throw error
    } catch {
        throw CLIError("cannot write \(out): \(writeErrorText(error))")
    }
}

/// The tokenizer files of a Hugging Face model directory that a merged directory copies.
let huggingFaceTokenizerFileNames = [
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json",
    "chat_template.jinja", "vocab.json", "merges.txt",
]

/// A file-system error as text: the library's own errors describe themselves, Foundation's by their localized
/// description (with the underlying POSIX reason when there is one).
func writeErrorText(_ error: Error) -> String {
    if error is AdapterError || error is ModelFileError { return String(describing: error) }
    let ns = error as NSError
    if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError {
        return "\(ns.localizedDescription) (\(underlying.localizedDescription))"
    }
    return ns.localizedDescription
}

/// Checks, before any work, that `out` can be created: its nearest existing ancestor must be a writable directory.
func checkWritable(_ out: String) throws {
    var parent = ((out as NSString).standardizingPath as NSString).deletingLastPathComponent
    if parent.isEmpty { parent = "." }
    let fm = FileManager.default
    var isDirectory: ObjCBool = false
    while !fm.fileExists(atPath: parent, isDirectory: &isDirectory) {
        let up = (parent as NSString).deletingLastPathComponent
        if up == parent { break }
        parent = up.isEmpty ? "." : up
    }
    guard fm.fileExists(atPath: parent, isDirectory: &isDirectory), isDirectory.boolValue else {
        throw CLIError("cannot write \(out): \(parent) is not a directory")
    }
    guard fm.isWritableFile(atPath: parent) else {
        throw CLIError("cannot write \(out): the directory \(parent) is not writable")
    }
}

/// `--type` of a merged GGUF.
func parseMergeType(_ text: String) throws -> GGMLType {
    switch text.lowercased() {
    case "f32": .f32
    case "f16": .f16
    case "bf16": .bf16
    case "q8_0": .q8_0
    default: throw CLIError("--type must be f32, f16, bf16 or q8_0, not '\(text)'")
    }
}

/// `--dtype` of a merged Hugging Face checkpoint.
func parseMergeDType(_ text: String) throws -> SafetensorsDType {
    switch text.lowercased() {
    case "f32": .f32
    case "bf16": .bf16
    default: throw CLIError("--dtype must be f32 or bf16, not '\(text)'")
    }
}

/// An adapter for the model: a native adapter file (its frozen factors regenerated from `weights` and its base
/// fingerprint checked) or a PEFT TinyLoRA directory (read with `PEFTImport`).
func loadAdapter(_ path: String, config: TransformerConfig, weights: WeightSource, threads: Int) throws -> Adapter {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw CLIError("adapter \(path): no such file or directory")
    }
    do {
        if isDirectory.boolValue {
            return try PEFTImport.read(directory: path, model: config, weights: weights)
        }
        return try AdapterFile.load(path: path, model: config, weights: weights, threads: threads)
    } catch let error as AdapterError {
        throw CLIError("adapter \(error.description.hasPrefix(path) ? "" : path + ": ")\(error.description)")
    }
}
