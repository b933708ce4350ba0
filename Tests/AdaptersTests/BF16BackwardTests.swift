import Adapters
import Foundation
import ModelFiles
import Numerics
import Transformer
import XCTest

/// The adapter gradient with bf16 weights in the backward (`useWeights(.bf16)` for the recording forward and
/// `useBackwardWeights(.bf16)` for the input gradients) against the fp32 gradient, on Qwen2.5-Coder-0.5B with
/// TinyLoRA u = 13 tied over all 168 modules: 2 prompts × 3 completions, GRPO-like closure weights.
///
/// bf16 keeps 8 significant bits; the gradient of the bf16 model differs from the fp32 one by rounding of every
/// product in 24 layers forward and backward. Bounds: relative L2 error ≤ 5% and cosine ≥ 0.995 (measured values are
/// printed); a wrong packing (transposed blocks, wrong pairs) gives errors of order 1. Switching back to fp32 must
/// give the fp32 gradient bit for bit.
final class BF16BackwardTests: XCTestCase {
    func testBF16BackwardGradientIsCloseToFP32() throws {
        guard BFloat16.isSupported else { throw XCTSkip("this CPU has no AVX-512 BF16 (avx512_bf16)") }
        let (model, adapter) = try Support.qwenWithTinyLoRA13()
        var rng = Xoshiro256StarStar(seed: 5, stream: 0)
        func random(_ n: Int) -> [Int] { (0 ..< n).map { _ in Int(rng.next(below: 150_000)) } }
        let prompts = [random(30), random(22)]
        var tokens: [[Int]] = [], starts: [Int] = []
        for g in 0 ..< 3 {
            for prompt in prompts {
                tokens.append(prompt + random(12 + 5 * g))
                starts.append(prompt.count)
            }
        }
        func run() throws -> (loss: Double, gradient: [Float]) {
            try adapter.lossAndGradient(model: model, tokens: tokens, completionStart: starts, temperature: 0.9) { i, logps in
                let a: Float = [1.2, -0.8, 0.5, -1.0, 0.9, -0.4][i]
                return logps.map { a * (1 + 0.01 * $0) }
            }
        }
        let fp32 = try run()
        try model.useWeights(.bf16, keepPacked: true)
        try model.useBackwardWeights(.bf16, keepPacked: true)
        XCTAssertEqual(model.backwardWeightFormat, .bf16)
        let bf16 = try run()
        try model.useWeights(.fp32)
        try model.useBackwardWeights(.fp32)
        XCTAssertEqual(model.bf16WeightBytes, 0)
        let again = try run()

        let dot = zip(fp32.gradient, bf16.gradient).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let n32 = fp32.gradient.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        let n16 = bf16.gradient.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
        let err = zip(fp32.gradient, bf16.gradient).reduce(0.0) { $0 + pow(Double($1.0 - $1.1), 2) }.squareRoot() / n32
        let cosine = dot / (n32 * n16)
        print(String(format: "bf16 backward vs fp32: gradient relative L2 error %.4f, cosine %.6f, loss %.5f vs %.5f",
                     err, cosine, bf16.loss, fp32.loss))
        XCTAssertGreaterThan(n32, 1e-3)
        XCTAssertLessThan(err, 0.05)
        XCTAssertGreaterThan(cosine, 0.995)
        XCTAssertLessThan(abs(bf16.loss - fp32.loss) / abs(fp32.loss), 0.02)
        XCTAssertEqual(again.loss, fp32.loss)
        XCTAssertEqual(again.gradient, fp32.gradient)

        // The same bf16 passes on a model that holds its quantized layers as blocks only (what train/demo load when
        // no pass needs fp32): the bf16 copies packed from the decoded blocks are the same bytes, so the gradient is
        // the same bit for bit, and no fp32 copy of a quantized layer is ever stored.
        let blocksOnly = try TransformerModel.load(ggufPath: Support.modelPath("Qwen2.5-Coder-0.5B-Instruct.gguf"),
                                                   threads: 2, linearStorage: .quantized)
        try blocksOnly.useWeights(.bf16, keepPacked: true)
        try blocksOnly.useBackwardWeights(.bf16, keepPacked: true)
        let fromBlocks = try adapter.lossAndGradient(model: blocksOnly, tokens: tokens, completionStart: starts,
                                                     temperature: 0.9) { i, logps in
            let a: Float = [1.2, -0.8, 0.5, -1.0, 0.9, -0.4][i]
            return logps.map { a * (1 + 0.01 * $0) }
        }
        XCTAssertEqual(blocksOnly.fp32LinearWeightBytes, 0)
        XCTAssertEqual(fromBlocks.loss, bf16.loss)
        XCTAssertEqual(fromBlocks.gradient, bf16.gradient)
    }
}
