import ArgumentParser
import Foundation
import ModelFiles
import Tokenizers
import Transformer

/// `--model` and `--threads`, shared by the commands that load a model.
struct ModelOptions: ParsableArguments {
    @Option(help: "A built-in model name (smollm2-135m, qwen2.5-coder-0.5b; fetched on first use), a .gguf path or a Hugging Face model directory.")
    var model: String

    @Option(help: "Worker threads for the forward pass (default: the number of CPUs).")
    var threads: Int?

    func validate() throws {
        if let threads, threads < 1 { throw ValidationError("--threads must be >= 1") }
    }

    var threadCount: Int { threads ?? ProcessInfo.processInfo.activeProcessorCount }

    /// Resolves --model (fetching a built-in model on first use) and opens it.
    func open() throws -> OpenedModel { try OpenedModel(location: resolveModel(model), threads: threadCount) }
}

/// A resolved model whose GGUF header (if any) is parsed once and shared by the tokenizer and the engine.
struct OpenedModel {
    let location: ModelLocation
    let threads: Int
    let gguf: GGUFFile?

    init(location: ModelLocation, threads: Int) throws {
        self.location = location
        self.threads = threads
        if case .gguf(let path) = location { gguf = try GGUFFile(path: path) } else { gguf = nil }
    }

    func tokenizer() throws -> Tokenizer {
        if let gguf { return try Tokenizer(gguf: gguf) }
        return try Tokenizer(huggingFaceDirectory: location.path)
    }

    /// The transformer, every weight dequantized to fp32.
    func transformer() throws -> TransformerModel {
        if let gguf { return try TransformerModel.load(gguf: gguf, threads: threads) }
        return try TransformerModel.load(huggingFaceDirectory: location.path, threads: threads)
    }

    /// The transformer for forward passes in `format`, switched to it: for native the linear layers a GGUF file
    /// stores quantized keep only their blocks (their fp32 weights are never made: an fp32 or bf16 pass, such as
    /// training's backward, decodes them on demand); native on a Hugging Face directory is an error before
    /// anything is loaded.
    func transformer(forwardIn format: WeightFormat) throws -> TransformerModel {
        guard format == .native else {
            let model = try transformer()
            try model.useWeights(format)
            return model
        }
        guard let gguf else { throw CLIError(NativeWeightsUnavailableError().description) }
        return try blocksOnly(gguf, forwardIn: .native)
    }

    /// The transformer for training, rollouts (and evaluations) in `rollouts`, gradients in `backward`. When no
    /// pass needs fp32 weights (rollouts bf16 or native, backward bf16), a GGUF model's quantized linear layers
    /// keep only their blocks and the bf16 copies of W and Wᵀ are packed from them: no fp32 copy is ever held
    /// (Qwen-0.5B: peak RSS of a GRPO step ~2 GB lower). Otherwise as `transformer(forwardIn: rollouts)`.
    func transformer(rolloutsIn rollouts: WeightFormat, backwardIn backward: WeightFormat) throws -> TransformerModel {
        guard backward == .bf16, rollouts != .fp32, let gguf else { return try transformer(forwardIn: rollouts) }
        return try blocksOnly(gguf, forwardIn: rollouts)
    }

    /// A GGUF model whose quantized linear layers hold only their blocks, switched to forward passes in `format`.
    private func blocksOnly(_ gguf: GGUFFile, forwardIn format: WeightFormat) throws -> TransformerModel {
        let model = try TransformerModel.load(gguf: gguf, threads: threads, linearStorage: .quantized)
        try model.useWeights(format)
        return model
    }
}
