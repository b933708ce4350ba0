import ArgumentParser
import Numerics
import Transformer

/// The `--weights fp32|bf16|native` value of `bench`, `generate`, `eval`, `train` and `demo` (and
/// `--backward-weights fp32|bf16` of `train` and `demo`).
enum WeightsOption {
    /// Parses the value; bf16 on a CPU without AVX-512 BF16 is refused here, before the model is loaded, and so
    /// is native where the weights feed a backward pass (`forwardOnly: false`).
    /// With `allowingAuto`, "auto" means bf16 when the CPU has AVX-512 BF16 and fp32 otherwise.
    static func parse(_ text: String, option: String = "--weights", allowingAuto: Bool = false,
                      forwardOnly: Bool = true) throws -> WeightFormat {
        if allowingAuto, text == "auto" { return BFloat16.isSupported ? .bf16 : .fp32 }
        let format: WeightFormat
        do { format = try WeightFormat(parsing: text) } catch {
            throw ValidationError("\(option): \(error)" + (allowingAuto ? ", or auto" : ""))
        }
        if format == .bf16, !BFloat16.isSupported {
            throw ValidationError("\(option) bf16: \(BFloat16UnsupportedError().description)")
        }
        if format == .native, !forwardOnly {
            throw ValidationError("\(option) native: the quantized blocks serve forward passes only (rollouts, generation, evaluation); the backward needs fp32 or bf16")
        }
        return format
    }

    /// Help text shared by the inference commands.
    static let help: ArgumentHelp = """
        Weights of the forward pass: fp32 (as loaded), bf16 (a bf16 copy of every linear layer and the LM head, \
        products with AVX-512 BF16: about twice the speed, logits within a few percent of their spread; needs a \
        CPU with avx512_bf16; adds half the fp32 weight bytes to memory) or native (a GGUF model's own quantized \
        blocks, used inside each product (integer dot products for up to 4 rows, bf16 products of decoded panels \
        above): the fp32 weights are never made, so memory is about the file's size; GGUF models only). With bf16 \
        and native, generation's KV cache is fp16.
        """
}
