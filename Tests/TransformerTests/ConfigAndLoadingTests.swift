import Foundation
import ModelFiles
import Transformer
import XCTest

/// Reading configs (HF `config.json`) and loading a Hugging Face directory written from a synthetic model.
final class ConfigAndLoadingTests: XCTestCase {
    /// Qwen2.5-0.5B-Instruct's config.json (abridged to the keys that matter, values as published).
    static let qwenConfig = """
    {"architectures":["Qwen2ForCausalLM"],"attention_dropout":0.0,"bos_token_id":151643,"eos_token_id":151645,
     "hidden_act":"silu","hidden_size":896,"initializer_range":0.02,"intermediate_size":4864,
     "max_position_embeddings":32768,"max_window_layers":21,"model_type":"qwen2","num_attention_heads":14,
     "num_hidden_layers":24,"num_key_value_heads":2,"rms_norm_eps":1e-06,"rope_theta":1000000.0,
     "sliding_window":32768,"tie_word_embeddings":true,"torch_dtype":"bfloat16","use_cache":true,
     "use_sliding_window":false,"vocab_size":151936}
    """

    static let smolConfig = """
    {"architectures":["LlamaForCausalLM"],"attention_bias":false,"hidden_act":"silu","hidden_size":576,
     "intermediate_size":1536,"max_position_embeddings":8192,"mlp_bias":false,"model_type":"llama",
     "num_attention_heads":9,"num_hidden_layers":30,"num_key_value_heads":3,"rms_norm_eps":1e-05,
     "rope_scaling":null,"rope_theta":100000,"tie_word_embeddings":true,"vocab_size":49152}
    """

    func testReadsHuggingFaceConfigs() throws {
        let q = try TransformerConfig(huggingFaceConfig: Data(Self.qwenConfig.utf8))
        XCTAssertEqual(q, try TransformerConfig(
            architecture: .qwen2, vocabularySize: 151936, hiddenSize: 896, intermediateSize: 4864, layerCount: 24,
            headCount: 14, kvHeadCount: 2, headDim: 64, rmsNormEpsilon: 1e-6, ropeTheta: 1e6, contextLength: 32768,
            tiedEmbeddings: true, attentionBias: true))
        let s = try TransformerConfig(huggingFaceConfig: Data(Self.smolConfig.utf8))
        XCTAssertEqual(s, try TransformerConfig(
            architecture: .llama, vocabularySize: 49152, hiddenSize: 576, intermediateSize: 1536, layerCount: 30,
            headCount: 9, kvHeadCount: 3, headDim: 64, rmsNormEpsilon: 1e-5, ropeTheta: 1e5, contextLength: 8192,
            tiedEmbeddings: true, attentionBias: false))
    }

    func testRefusesUnsupportedConfigs() {
        func expectError(_ edit: (inout [String: Any]) -> Void, _ fragment: String, line: UInt = #line) {
            var json = try! JSONSerialization.jsonObject(with: Data(Self.smolConfig.utf8)) as! [String: Any]
            edit(&json)
            let data = try! JSONSerialization.data(withJSONObject: json)
            XCTAssertThrowsError(try TransformerConfig(huggingFaceConfig: data), line: line) { error in
                XCTAssertTrue("\(error)".contains(fragment), "\(error)", line: line)
            }
        }
        expectError({ $0["model_type"] = "mistral" }, "unsupported model architecture 'mistral'")
        expectError({ $0["rope_scaling"] = ["rope_type": "llama3", "factor": 8.0] }, "RoPE scaling 'llama3'")
        expectError({ $0["hidden_act"] = "gelu" }, "activation 'gelu'")
        expectError({ $0["num_key_value_heads"] = 4 }, "cannot be grouped")
        expectError({ $0["hidden_size"] = -5 }, "hidden size")
        expectError({ $0.removeValue(forKey: "vocab_size") }, "vocab_size")
        expectError({ $0["mlp_bias"] = true }, "mlp_bias")
        XCTAssertThrowsError(try TransformerConfig(huggingFaceConfig: Data("[1,2]".utf8)))
    }

    func testLoadsHuggingFaceDirectoryWrittenFromSyntheticModel() throws {
        for (architecture, tied) in [(Architecture.qwen2, false), (.llama, true)] {
            let c = Synthetic.config(architecture: architecture, tied: tied, bias: architecture == .qwen2)
            let w = Synthetic.weights(c)
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("engine-hf-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let config: [String: Any] = [
                "model_type": architecture.rawValue, "vocab_size": c.vocabularySize, "hidden_size": c.hiddenSize,
                "intermediate_size": c.intermediateSize, "num_hidden_layers": c.layerCount,
                "num_attention_heads": c.headCount, "num_key_value_heads": c.kvHeadCount,
                "rms_norm_eps": Double(c.rmsNormEpsilon), "rope_theta": c.ropeTheta,
                "max_position_embeddings": c.contextLength, "tie_word_embeddings": tied, "hidden_act": "silu",
            ]
            try JSONSerialization.data(withJSONObject: config).write(to: dir.appendingPathComponent("config.json"))
            var writer = SafetensorsWriter()
            for (name, values) in w.tensors {
                try writer.addTensor(name: name.huggingFace, shape: name.shape(c), values: values, as: .f32)
            }
            try writer.write(to: dir.appendingPathComponent("model.safetensors").path)

            let loaded = try TransformerModel.load(huggingFaceDirectory: dir.path)
            XCTAssertEqual(loaded.config, c)
            let reference = try TransformerModel(config: c, weights: w)
            let tokens = [[1, 5, 9, 2, 40]]
            let a = try loaded.forward(tokens: tokens, slots: [0], cache: loaded.makeCache(slots: 1, capacity: 8), allPositions: true)
            let b = try reference.forward(tokens: tokens, slots: [0], cache: reference.makeCache(slots: 1, capacity: 8), allPositions: true)
            XCTAssertEqual(a.values, b.values)

            // A checkpoint missing a tensor is an error that names it.
            var partial = SafetensorsWriter()
            for (name, values) in w.tensors where name != .layer(1, .downWeight) {
                try partial.addTensor(name: name.huggingFace, shape: name.shape(c), values: values, as: .f32)
            }
            try partial.write(to: dir.appendingPathComponent("model.safetensors").path)
            XCTAssertThrowsError(try TransformerModel.load(huggingFaceDirectory: dir.path)) { error in
                XCTAssertTrue("\(error)".contains("model.layers.1.mlp.down_proj.weight"), "\(error)")
            }
        }
        XCTAssertThrowsError(try TransformerModel.load(huggingFaceDirectory: "/nonexistent/dir")) { error in
            XCTAssertTrue("\(error)".contains("config.json"), "\(error)")
        }
    }
}
