import ArgumentParser
import Foundation
import ModelFiles

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a model's architecture, dimensions, parameter count and tensor types.")

    @Option(help: "A built-in model name (smollm2-135m, qwen2.5-coder-0.5b), a .gguf path or a Hugging Face model directory.")
    var model: String

    func run() throws {
        switch try resolveModel(model) {
        case .gguf(let path): try printGGUF(path)
        case .huggingFaceDirectory(let path): try printHuggingFace(path)
        }
    }

    func printGGUF(_ path: String) throws {
        let gguf = try GGUFFile(path: path)
        let arch = gguf.string("general.architecture") ?? "?"
        func int(_ key: String) -> Int? { gguf.int("\(arch).\(key)") }
        let heads = int("attention.head_count")
        let dModel = int("embedding_length")
        let headDim = int("attention.key_length") ?? zip(dModel, heads).map { $0 / $1 }
        let vocab = gguf.metadata["tokenizer.ggml.tokens"]?.array?.count ?? int("vocab_size")
            ?? gguf.tensorInfo("token_embd.weight")?.dims.last
        var rows: [(String, String)] = [
            ("file", "\(gguf.path) (GGUF v\(gguf.version))"),
            ("name", gguf.string("general.name") ?? "?"),
            ("architecture", arch),
            ("blocks", show(int("block_count"))),
            ("model dim", show(dModel)),
            ("ffn dim", show(int("feed_forward_length"))),
            ("heads", show(heads)),
            ("kv heads", show(int("attention.head_count_kv") ?? heads)),
            ("head dim", show(headDim)),
            ("vocab", show(vocab)),
            ("context", show(int("context_length"))),
            ("rope theta", show(gguf.double("\(arch).rope.freq_base"))),
            ("rms norm eps", gguf.double("\(arch).attention.layer_norm_rms_epsilon").map { "\(Float($0))" } ?? "?"),
            ("tied output head", gguf.tensorInfo("output.weight") == nil ? "yes" : "no"),
            ("tokenizer", gguf.string("tokenizer.ggml.model").map { "\($0) (pre: \(gguf.string("tokenizer.ggml.pre") ?? "default"))" } ?? "none"),
            ("chat template", gguf.string("tokenizer.chat_template") == nil ? "no" : "yes"),
        ]
        var counts: [String: Int] = [:]
        var params = 0
        for t in gguf.tensors {
            counts[t.type.name, default: 0] += 1
            params += t.elementCount
        }
        rows.append(("parameters", "\(params) (\(String(format: "%.1f", Double(params) / 1e6))M)"))
        rows.append(("tensors", "\(gguf.tensors.count)"))
        rows.append(("tensor types", counts.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")))
        printRows(rows)
    }

    func printHuggingFace(_ path: String) throws {
        let configPath = (path as NSString).appendingPathComponent("config.json")
        let text = try readUTF8File(configPath, what: "config file")
        guard let config = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] else {
            throw CLIError("\(configPath) is not a JSON object")
        }
        func int(_ key: String) -> Int? { (config[key] as? NSNumber)?.intValue }
        let heads = int("num_attention_heads")
        let dModel = int("hidden_size")
        var rows: [(String, String)] = [
            ("directory", path),
            ("architecture", (config["model_type"] as? String) ?? "?"),
            ("classes", ((config["architectures"] as? [String]) ?? []).joined(separator: ", ")),
            ("blocks", show(int("num_hidden_layers"))),
            ("model dim", show(dModel)),
            ("ffn dim", show(int("intermediate_size"))),
            ("heads", show(heads)),
            ("kv heads", show(int("num_key_value_heads") ?? heads)),
            ("head dim", show(int("head_dim") ?? zip(dModel, heads).map { $0 / $1 })),
            ("vocab", show(int("vocab_size"))),
            ("context", show(int("max_position_embeddings"))),
            // transformers 5 nests it in rope_parameters.
            ("rope theta", show((config["rope_theta"] as? NSNumber)?.doubleValue
                    ?? ((config["rope_parameters"] as? [String: Any])?["rope_theta"] as? NSNumber)?.doubleValue)),
            ("rms norm eps", (config["rms_norm_eps"] as? NSNumber).map { "\(Float($0.doubleValue))" } ?? "?"),
            ("tied output head", ((config["tie_word_embeddings"] as? Bool) ?? false) ? "yes" : "no"),
            ("dtype", (config["torch_dtype"] as? String) ?? (config["dtype"] as? String) ?? "?"),
        ]
        let checkpoint = try SafetensorsCollection(directory: path)
        var counts: [String: Int] = [:]
        var params = 0
        for name in checkpoint.names {
            guard let (_, info) = checkpoint.tensor(name) else { continue }
            counts[info.dtype.rawValue, default: 0] += 1
            params += info.elementCount
        }
        rows.append(("parameters", "\(params) (\(String(format: "%.1f", Double(params) / 1e6))M)"))
        rows.append(("tensors", "\(checkpoint.names.count) in \(checkpoint.files.count) safetensors file(s)"))
        rows.append(("tensor types", counts.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", ")))
        printRows(rows)
    }

    func show(_ v: Int?) -> String { v.map(String.init) ?? "?" }
    func show(_ v: Double?) -> String { v.map { $0 == $0.rounded() && abs($0) < 1e15 ? String(Int($0)) : "\($0)" } ?? "?" }

    func printRows(_ rows: [(String, String)]) {
        let width = rows.map(\.0.count).max() ?? 0
        for (k, v) in rows {
            print(k + ":" + String(repeating: " ", count: width - k.count + 1) + v)
        }
    }
}

private func zip(_ a: Int?, _ b: Int?) -> (Int, Int)? {
    guard let a, let b, b != 0 else { return nil }
    return (a, b)
}
