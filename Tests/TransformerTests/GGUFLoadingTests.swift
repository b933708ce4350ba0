import Foundation
import ModelFiles
import Transformer
import XCTest

/// Loading synthetic models written as GGUF files the way llama.cpp's converter writes them (dims innermost
/// first; llama Q/K rows permuted): the loaded model equals the in-memory one.
final class GGUFLoadingTests: XCTestCase {
    func writeGGUF(_ c: TransformerConfig, _ w: InMemoryWeights, architecture: String? = nil,
                   skip: Set<TensorName> = [], extra: [String: GGUFValue] = [:],
                   wrongDims: (TensorName, [Int])? = nil) throws -> String {
        var writer = GGUFWriter()
        let arch = architecture ?? c.architecture.rawValue
        try writer.set("general.architecture", .string(arch))
        try writer.set("\(arch).embedding_length", .uint32(UInt32(c.hiddenSize)))
        try writer.set("\(arch).block_count", .uint32(UInt32(c.layerCount)))
        try writer.set("\(arch).feed_forward_length", .uint32(UInt32(c.intermediateSize)))
        try writer.set("\(arch).attention.head_count", .uint32(UInt32(c.headCount)))
        try writer.set("\(arch).attention.head_count_kv", .uint32(UInt32(c.kvHeadCount)))
        try writer.set("\(arch).attention.layer_norm_rms_epsilon", .float32(c.rmsNormEpsilon))
        try writer.set("\(arch).rope.freq_base", .float32(Float(c.ropeTheta)))
        try writer.set("\(arch).context_length", .uint32(UInt32(c.contextLength)))
        for (k, v) in extra { try writer.set(k, v) }
        for (name, values) in w.tensors.sorted(by: { $0.key.gguf < $1.key.gguf }) where !skip.contains(name) {
            var stored = values
            if c.architecture == .llama, case .layer(_, let t) = name {
                switch t {
                case .qWeight: stored = QKPermutation.permute(values, heads: c.headCount, rowLength: c.hiddenSize)
                case .kWeight: stored = QKPermutation.permute(values, heads: c.kvHeadCount, rowLength: c.hiddenSize)
                default: break
                }
            }
            var dims = Array(name.shape(c).reversed())
            if let (wrong, d) = wrongDims, wrong == name {
                dims = d
                stored = Array(repeating: 0.5, count: d.reduce(1, *))
            }
            try writer.addTensor(name: name.gguf, dims: dims, values: stored, as: .f32)
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("engine-\(UUID().uuidString).gguf").path
        try writer.write(to: path)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func testLoadedGGUFEqualsInMemoryModel() throws {
        for c in [Synthetic.config(architecture: .llama, heads: 4, kvHeads: 2, tied: true),
                  Synthetic.config(architecture: .qwen2, heads: 4, kvHeads: 1, tied: false, bias: true)] {
            let w = Synthetic.weights(c)
            let path = try writeGGUF(c, w)
            let loaded = try TransformerModel.load(ggufPath: path)
            XCTAssertEqual(loaded.config, c)
            // Un-permuted at load: the weights equal the HF-layout originals.
            XCTAssertEqual(loaded.layers[1].q.weight, w.tensors[.layer(1, .qWeight)])
            XCTAssertEqual(loaded.layers[0].k.weight, w.tensors[.layer(0, .kWeight)])
            let reference = try TransformerModel(config: c, weights: w)
            let tokens = [[3, 1, 4, 1, 5, 9, 2, 6, 5, 3]]
            let a = try loaded.forward(tokens: tokens, slots: [0], cache: loaded.makeCache(slots: 1, capacity: 10), allPositions: true)
            let b = try reference.forward(tokens: tokens, slots: [0], cache: reference.makeCache(slots: 1, capacity: 10), allPositions: true)
            XCTAssertEqual(a.values, b.values, "\(c.architecture)")
        }
    }

    func testBadGGUFModelsGiveClearErrors() throws {
        let c = Synthetic.config(architecture: .qwen2, tied: false, bias: true)
        let w = Synthetic.weights(c)
        func expectError(_ path: String, _ fragment: String, line: UInt = #line) {
            XCTAssertThrowsError(try TransformerModel.load(ggufPath: path), line: line) { error in
                XCTAssertTrue("\(error)".contains(fragment), "\(error)", line: line)
            }
        }
        expectError(try writeGGUF(c, w, architecture: "mamba"), "unsupported model architecture 'mamba'")
        expectError(try writeGGUF(c, w, skip: [.layer(1, .vWeight)]), "blk.1.attn_v.weight")
        expectError(try writeGGUF(c, w, skip: [.layer(0, .kBias)]), "blk.0.attn_k.bias")
        expectError(try writeGGUF(c, w, extra: ["qwen2.rope.scaling.type": .string("yarn")]), "RoPE scaling 'yarn'")
        expectError(try writeGGUF(c, w, extra: ["qwen2.attention.head_count_kv": .uint32(3)]), "cannot be grouped")
        expectError(try writeGGUF(c, w, extra: ["qwen2.attention.head_count_kv": .array(elementType: 4, [.uint32(2), .uint32(2)])]),
                    "not a single integer")
        expectError(try writeGGUF(c, w, extra: ["qwen2.rope.dimension_count": .uint32(4)]), "partial RoPE")
        // A tensor with the wrong dims is named, with both shapes.
        expectError(try writeGGUF(c, w, wrongDims: (.layer(0, .upWeight), [c.hiddenSize, c.intermediateSize - 1])),
                    "blk.0.ffn_up.weight has dims")
    }
}
