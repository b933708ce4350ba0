import ArgumentParser
import Foundation
import ModelFiles
import Transformer

/// `--model` and `--threads`, shared by the commands that run a model.
struct ModelOptions: ParsableArguments {
    @Option(help: "A built-in model name (smollm2-135m, qwen2.5-coder-0.5b; fetched on first use), a .gguf path or a Hugging Face model directory.")
    var model: String

    @Option(help: "Worker threads for the forward pass (default: the number of CPUs).")
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be >= 1") }
    }

    var threadCount: Int { threads ?? ProcessInfo.processInfo.activeProcessorCount }

    func location() throws -> ModelLocation { try resolveModel(model) }

    /// Loads the transformer (weights dequantized to fp32).
    func loadTransformer(_ location: ModelLocation) throws -> TransformerModel {
        switch location {
        case .gguf(let path):
            return try TransformerModel.load(ggufPath: path, threads: threadCount)
        case .huggingFaceDirectory(let path):
            throw CLIError("\(path): running Hugging Face directories is not supported yet (use a .gguf file)")
        }
    }
}
