import Foundation
import ModelFiles
import Numerics
import Transformer
import XCTest

/// The forward pass from the GGUF files' own quantized blocks (`useWeights(.native)`, `LinearStorage.quantized`)
/// against the same engine in fp32 on the same (dequantized) weights, on the real prompts of logits_fixture.json.
///
/// Tolerance: the native products round x to 16 bits per group of 32 for ≤ 4 rows (integer dots on AVX-512 VNNI:
/// the batch-4 LM head here, decode at batch ≤ 4; error ≤ 2⁻¹⁶ of the group's largest |x| per value) and both
/// factors to bf16 above (the prefill: ≤ 2⁻⁹ relative per value), so the bf16 forward's bound applies
/// (BF16WeightsTests): at the last position of every prompt, max_j |z_native[j] − z_fp32[j]| ≤ 0.1 ·
/// std_j(z_fp32) and the same top-1 token. Measured here
/// (Zen 5): printed by the test. A wrong block, row order (llama's permuted Q/K) or scale gives differences of
/// the order of the std.
final class NativeWeightsTests: XCTestCase {
    static let relativeTolerance: Float = 0.1
    static let files = ["SmolLM2-135M-Instruct.Q4_1.gguf", "Qwen2.5-Coder-0.5B-Instruct.gguf"]

    func prompts(_ file: String) throws -> [[Int]] {
        let dir = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        let fixture = try JSONDecoder().decode(BF16WeightsTests.Prompts.self,
                                               from: Data(contentsOf: dir.appendingPathComponent("logits_fixture.json")))
        return try XCTUnwrap(fixture.models.first { $0.file == file }).prompts.map(\.ids)
    }

    func testLogitsWithinToleranceOfFP32ForBothModels() throws {
        for file in Self.files {
            let path = try GoldenLogitsTests.modelPath(file)
            let prompts = try prompts(file)
            let model = try TransformerModel.load(ggufPath: path)
            let reference = try BF16WeightsTests.lastLogits(model, prompts)
            try model.useWeights(.native)
            XCTAssertEqual(model.weightFormat, .native)
            let native = try BF16WeightsTests.lastLogits(model, prompts)
            let worst = BF16WeightsTests.assertClose(native, reference, tolerance: Self.relativeTolerance, label: file)
            print("native vs fp32 (\(file)): largest max|Δlogit| / std = \(worst)")

            // Loaded with the blocks only: no fp32 copy of a quantized linear layer, the same native logits bit
            // for bit, and the fp32 forward (decoding on demand) gives the fp32 logits bit for bit.
            let blocksOnly = try TransformerModel.load(ggufPath: path, linearStorage: .quantized)
            XCTAssertEqual(blocksOnly.weightFormat, .native)
            XCTAssertEqual(blocksOnly.fp32LinearWeightBytes, 0, "\(file): no fp32 copy of a linear layer")
            XCTAssertNotNil(blocksOnly.embeddingBlocks, "\(file): the embedding table kept as blocks")
            XCTAssertEqual(blocksOnly.embedding, model.embedding, "\(file): decoded on demand, the loaded fp32 table")
            XCTAssertEqual(blocksOnly.quantizedWeightBytes, model.quantizedWeightBytes)
            XCTAssertEqual(try BF16WeightsTests.lastLogits(blocksOnly, prompts), native, file)
            try blocksOnly.useWeights(.fp32)
            XCTAssertEqual(try BF16WeightsTests.lastLogits(blocksOnly, prompts), reference, "\(file): fp32 from the blocks decoded on demand")
            XCTAssertTrue(blocksOnly.linearLayers.allSatisfy { $0.storesFP32Weight || $0.quantizedWeight != nil },
                          "blocks that are a layer's only storage are kept")

            // Back to fp32 on the loaded model: the fp32 result bit for bit, and the blocks released.
            try model.useWeights(.fp32)
            XCTAssertEqual(try BF16WeightsTests.lastLogits(model, prompts), reference)
            XCTAssertEqual(model.quantizedWeightBytes, 0)
        }
    }

    /// Greedy decoding of 8 tokens from the native weights gives the fp32 tokens at batch 1 and at batch 8, except
    /// after a near-tie: where the two first differ, fp32's own logits must rank the two tokens within the logit
    /// tolerance (`relativeTolerance` × std), a choice any rounding may flip.
    func testGreedyTokensMatchFP32AtBatch1And8() throws {
        for file in Self.files {
            let model = try TransformerModel.load(ggufPath: GoldenLogitsTests.modelPath(file))
            let fixturePrompts = try prompts(file)
            let prompts = Array((fixturePrompts + fixturePrompts.map { Array($0.dropLast(2)) }).prefix(8))
            let fp32Batch = try BF16WeightsTests.greedy(model, prompts, tokens: 8)
            let fp32Single = try BF16WeightsTests.greedy(model, [prompts[1]], tokens: 8)
            try model.useWeights(.native)
            let nativeBatch = try BF16WeightsTests.greedy(model, prompts, tokens: 8)
            let nativeSingle = try BF16WeightsTests.greedy(model, [prompts[1]], tokens: 8)
            try model.useWeights(.fp32)
            for i in prompts.indices {
                try assertSameUpToNearTie(nativeBatch[i], fp32Batch[i], prompt: prompts[i], fp32: model,
                                          "\(file) prompt \(i) at batch \(prompts.count)")
            }
            try assertSameUpToNearTie(nativeSingle[0], fp32Single[0], prompt: prompts[1], fp32: model, "\(file) batch 1")
        }
    }

    /// `tokens` equals `reference`, or they first differ at a position where the fp32 logits of the two candidate
    /// tokens are closer than the documented logit tolerance.
    func assertSameUpToNearTie(_ tokens: [Int], _ reference: [Int], prompt: [Int], fp32 model: TransformerModel,
                               _ label: String, line: UInt = #line) throws {
        guard let k = tokens.indices.first(where: { $0 >= reference.count || tokens[$0] != reference[$0] }) else {
            XCTAssertEqual(tokens.count, reference.count, label, line: line)
            return
        }
        let z = try BF16WeightsTests.lastLogits(model, [prompt + reference[..<k]])[0]
        let mean = z.reduce(0, +) / Float(z.count)
        let squares: [Float] = z.map { ($0 - mean) * ($0 - mean) }
        let std = (squares.reduce(0, +) / Float(z.count)).squareRoot()
        let margin = z[reference[k]] - z[tokens[k]]
        print("\(label): differs at token \(k) (\(tokens[k]) vs fp32 \(reference[k])), fp32 margin \(margin / std) std")
        XCTAssertLessThanOrEqual(margin, Self.relativeTolerance * std,
                                 "\(label): token \(k) differs although fp32 prefers its token by \(margin / std) std",
                                 line: line)
    }

    /// A model not loaded from GGUF has no blocks: native is a clear error; an assigned (merged) weight drops
    /// its blocks and is not given the file's stale ones again.
    func testNativeNeedsGGUFAndMergedLayersStayFP32() throws {
        let c = Synthetic.config(architecture: .qwen2, heads: 4, kvHeads: 2, tied: false, bias: true)
        let synthetic = try TransformerModel(config: c, weights: Synthetic.weights(c))
        XCTAssertThrowsError(try synthetic.useWeights(.native)) {
            XCTAssertTrue("\($0)".contains("--weights native needs a GGUF model"), "\($0)")
        }
        XCTAssertThrowsError(try TransformerModel(config: c, weights: Synthetic.weights(c), linearStorage: .quantized)) {
            XCTAssertTrue("\($0)".contains("needs a GGUF model"), "\($0)")
        }
        XCTAssertThrowsError(try synthetic.useBackwardWeights(.native))

        let model = try TransformerModel.load(ggufPath: GoldenLogitsTests.modelPath(Self.files[0]))
        try model.useWeights(.native)
        let q = model.layers[0].q
        XCTAssertNotNil(q.quantizedWeight)
        q.weight = q.weight.map { $0 * 2 }
        XCTAssertNil(q.quantizedWeight)
        try model.useWeights(.fp32)
        try model.useWeights(.native)
        XCTAssertNil(q.quantizedWeight, "a modified layer keeps its fp32 weights")
        XCTAssertFalse(q.forwardUsesQuantized)
        XCTAssertNotNil(model.layers[0].k.quantizedWeight)
        XCTAssertEqual(model.weightFormat, .native)
    }

    /// Records `Σ dY ⊗ x` (what a delta's parameter gradient is built from) and adds nothing to the output.
    final class ProbeDelta: LinearDelta {
        var sum = 0.0
        let inFeatures: Int, outFeatures: Int
        init(inFeatures: Int, outFeatures: Int) { self.inFeatures = inFeatures; self.outFeatures = outFeatures }
        func addDelta(_ x: UnsafePointer<Float>, rows: Int, into y: UnsafeMutablePointer<Float>, threads: Int) {}
        func backward(_ x: UnsafePointer<Float>, rows: Int, outputGradient dY: UnsafePointer<Float>,
                      addingInputGradientTo dX: UnsafeMutablePointer<Float>, threads: Int) {
            for r in 0 ..< rows {
                var xs = 0.0, ds = 0.0
                for j in 0 ..< inFeatures { xs += Double(x[r * inFeatures + j]) * Double(j % 7 + 1) }
                for o in 0 ..< outFeatures { ds += Double(dY[r * outFeatures + o]) * Double(o % 5 + 1) }
                sum += xs * ds
            }
        }
    }

    /// A model holding only the blocks runs the fp32 backward by decoding them on demand: the same log-likelihood
    /// and the same gradient at the first layer (through every layer's input gradient) as the fp32-loaded model,
    /// bit for bit.
    func testBackwardFromBlocksEqualsFP32() throws {
        let path = try GoldenLogitsTests.modelPath(Self.files[0])
        let tokens = [try prompts(Self.files[0])[1]]
        let weights = [[Float](repeating: 1, count: tokens[0].count - 1)]
        var results: [(Double, Double)] = []
        for storage in [LinearStorage.fp32, .quantized] {
            let model = try TransformerModel.load(ggufPath: path, linearStorage: storage)
            try model.useWeights(.fp32)
            let q = model.layers[0].q
            let probe = ProbeDelta(inFeatures: q.inFeatures, outFeatures: q.outFeatures)
            q.delta = probe
            let value = try model.backward(tokens: tokens, weights: weights)
            results.append((value, probe.sum))
            XCTAssertNotEqual(probe.sum, 0)
        }
        XCTAssertEqual(results[0].0, results[1].0, "log-likelihood")
        XCTAssertEqual(results[0].1, results[1].1, "gradient reaching layer 0")
    }
}
