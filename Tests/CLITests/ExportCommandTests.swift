import Foundation
import ModelFiles
import XCTest

/// `merge` and `export`, running the binary on SmolLM2-135M: a merged model scores like the base with the adapter
/// attached, exports write the expected files, bad input gets one clean error line.
final class ExportCommandTests: TemporaryDirectoryTestCase {
    func smol() throws -> String { try CLI.modelPath("smollm2-135m") }

    /// A TinyLoRA adapter (u = 13, one group) with unscaled N(0, 1) v, so that it changes even the top ids.
    func randomAdapter() throws -> String {
        let path = dir + "/random.tla"
        let r = try CLI.run(["adapter", "init", "--model", try smol(), "--u", "13", "--tie", "all", "--random-std", "1",
                             "--seed", "3", "--out", path])
        XCTAssertEqual(r.status, 0, r.stderr)
        return path
    }

    /// `score --ids` (needs no tokenizer, so it also runs on a merged Hugging Face directory) as
    /// [(position, [(id, logit)])].
    func score(model: String, _ extra: [String] = []) throws -> [[(Int, Double)]] {
        let r = try CLI.run(["score", "--model", model, "--ids", "504,3575,282,4649,314", "--top-k", "5", "--last", "2",
                             "--json"] + extra)
        XCTAssertEqual(r.status, 0, r.stderr)
        return try CLI.topLogits(try CLI.jsonObject(r))
    }

    func run(_ args: [String]) throws -> CLIResult {
        let r = try CLI.run(args)
        XCTAssertEqual(r.status, 0, r.stderr)
        return r
    }

    func testMergedGGUFAndHuggingFaceScoreLikeTheAttachedAdapter() throws {
        let adapter = try randomAdapter()
        let base = try score(model: try smol())
        let attached = try score(model: try smol(), ["--adapter", adapter])
        XCTAssertNotEqual(base.map { $0.map(\.0) }, attached.map { $0.map(\.0) }, "the random adapter must change the top ids")

        let merged = dir + "/merged.gguf"
        let m = try run(["merge", "--model", try smol(), "--adapter", adapter, "--out", merged, "--type", "f32"])
        XCTAssertEqual(m.stdoutLines.last, merged)
        let gguf = try GGUFFile(path: merged)
        XCTAssertEqual(gguf.tensors.first { $0.name == "blk.0.attn_q.weight" }?.type, .f32)
        assertSameTop(try score(model: merged), attached, tolerance: 1e-3)

        let hf = dir + "/merged-hf"
        let h = try run(["merge", "--model", try smol(), "--adapter", adapter, "--out", hf])
        XCTAssertEqual(h.stdoutLines.last, hf)
        for name in ["config.json", "model.safetensors"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: hf + "/" + name), name)
        }
        assertSameTop(try score(model: hf), attached, tolerance: 1e-3)
    }

    func testExportFormats() throws {
        let adapter = try randomAdapter()
        let model = try smol()
        let peft = dir + "/peft"
        XCTAssertEqual(try run(["export", "--model", model, "--adapter", adapter, "--format", "peft-tinylora",
                                "--out", peft]).stdoutLines.last, peft)
        let config = try XCTUnwrap(try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: peft + "/adapter_config.json"))) as? [String: Any])
        XCTAssertEqual(config["peft_type"] as? String, "TINYLORA")
        let v = try SafetensorsFile(path: peft + "/adapter_model.safetensors")
        // Per module A, B and P (r = 2, u = 13), one shared v of length 13.
        XCTAssertEqual(v.tensors.count, 3 * 30 * 7 + 1)
        XCTAssertEqual(v.tensors.first { $0.name == "base_model.tinylora_v.0" }?.shape, [13])

        let lora = dir + "/lora"
        _ = try run(["export", "--model", model, "--adapter", adapter, "--format", "peft-lora", "--out", lora])
        let loraConfig = try XCTUnwrap(try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: lora + "/adapter_config.json"))) as? [String: Any])
        XCTAssertEqual(loraConfig["peft_type"] as? String, "LORA")
        let ab = try SafetensorsFile(path: lora + "/adapter_model.safetensors")
        XCTAssertEqual(ab.tensors.count, 2 * 30 * 7, "one A and one B per module")

        let ggufLoRA = dir + "/lora.gguf"
        _ = try run(["export", "--model", model, "--adapter", adapter, "--format", "gguf-lora", "--out", ggufLoRA])
        let file = try GGUFFile(path: ggufLoRA)
        XCTAssertEqual(file.metadata["general.type"]?.string, "adapter")
        XCTAssertEqual(file.metadata["adapter.type"]?.string, "lora")
        XCTAssertEqual(file.tensors.count, 2 * 30 * 7)

        // The PEFT TinyLoRA directory is accepted as --adapter: score gives the native file's logits, and its GGUF
        // LoRA export equals the native file's.
        assertSameTop(try score(model: model, ["--adapter", peft]), try score(model: model, ["--adapter", adapter]),
                      tolerance: 1e-4)
        let fromPEFT = dir + "/from-peft.gguf"
        _ = try run(["export", "--model", model, "--adapter", peft, "--format", "gguf-lora", "--out", fromPEFT])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: fromPEFT)),
                       try Data(contentsOf: URL(fileURLWithPath: ggufLoRA)))
    }

    func testBadInput() throws {
        let model = try smol()
        let adapter = try randomAdapter()
        let missing = dir + "/missing.tla"
        assertCleanError(try CLI.run(["merge", "--model", model, "--adapter", missing, "--out", dir + "/m.gguf"]),
                         contains: "missing.tla")
        assertCleanError(try CLI.run(["export", "--model", model, "--adapter", missing, "--format", "gguf-lora",
                                      "--out", dir + "/l.gguf"]), contains: "missing.tla")
        assertCleanError(try CLI.run(["merge", "--model", model, "--adapter", adapter, "--out", dir + "/m.gguf",
                                      "--type", "q4_0"]), contains: "q4_0")
        assertCleanError(try CLI.run(["merge", "--model", model, "--adapter", adapter, "--out", dir + "/m",
                                      "--dtype", "f16"]), contains: "f16")
        assertCleanError(try CLI.run(["export", "--model", model, "--adapter", adapter, "--format", "onnx",
                                      "--out", dir + "/x"]), contains: "onnx")
        // Unwritable: the output's parent is a regular file.
        let blocked = adapter + "/out.gguf"
        assertCleanError(try CLI.run(["merge", "--model", model, "--adapter", adapter, "--out", blocked]),
                         contains: blocked)
        assertCleanError(try CLI.run(["export", "--model", model, "--adapter", adapter, "--format", "peft-lora",
                                      "--out", adapter + "/peft"]), contains: adapter + "/peft")
        // The adapter belongs to another base.
        assertCleanError(try CLI.run(["merge", "--model", try CLI.modelPath("qwen2.5-coder-0.5b"), "--adapter", adapter,
                                      "--out", dir + "/q.gguf"]), contains: "30 layers")
    }
}
