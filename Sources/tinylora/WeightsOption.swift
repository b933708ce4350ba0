import ArgumentParser
import Numerics
import Transformer

/// The `--weights fp32|bf16` value of `bench`, `generate`, `eval`, `train` and `demo`.
enum WeightsOption {
    /// Parses the value; bf16 on a CPU without AVX-512 BF16 is refused here, before the model is loaded.
    static func parse(_ text: String, option: String = "--weights") throws -> WeightFormat {
        let format: WeightFormat
        do { format = try WeightFormat(parsing: text) } catch { throw ValidationError("\(option): \(error)") }
        if format == .bf16, !BFloat16.isSupported {
            throw ValidationError("\(option) bf16: \(BFloat16UnsupportedError().description)")
        }
        return format
    }

    /// Help text shared by the inference commands.
    static let help: ArgumentHelp = """
        Weights of the forward pass: fp32 (as loaded) or bf16 (a bf16 copy of every linear layer and the LM head, \
        products with AVX-512 BF16: about twice the speed, logits within a few percent of their spread; needs a \
        CPU with avx512_bf16; adds half the fp32 weight bytes to memory).
        """
}
