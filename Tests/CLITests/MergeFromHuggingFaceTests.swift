import Foundation
import ModelFiles
import XCTest

/// A Hugging Face directory as the source of `merge`, `export` and `adapter init`, running the binary on SmolLM2-135M:
/// `merge` of the GGUF writes a directory with tokenizer files that tokenizes like the GGUF; that directory is then a
/// base model of its own (adapter built from it, merged again, exported), and every merged model scores like the
/// adapter attached to its base.
final class MergeFromHuggingFaceTests: TemporaryDirectoryTestCase {
    func run(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> CLIResult {
        let r = try CLI.run(args)
        XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
        return r
    }

    /// `score --text` (so the model's tokenizer is used) at the last 2 positions, top 5, as [(position, [(id, logit)])].
    func score(model: String, _ extra: [String] = []) throws -> (ids: [Int], top: [[(Int, Double)]]) {
        let r = try run(["score", "--model", model, "--text", "The capital of France is Paris. The capital of Germany is",
                         "--top-k", "5", "--last", "2", "--json"] + extra)
        let object = try CLI.jsonObject(r)
        let top = try CLI.topLogits(object)
        return (try XCTUnwrap(object["ids"] as? [Int]), top)
    }

    func testHuggingFaceDirectoryAsSource() throws {
        let gguf = try CLI.modelPath("smollm2-135m")
        let first = dir + "/first.tla"
        _ = try run(["adapter", "init", "--model", gguf, "--u", "13", "--tie", "all", "--random-v", "--seed", "3",
                     "--out", first])

        // GGUF → merged HF directory, with tokenizer files written from the GGUF's tokenizer.
        let hf = dir + "/merged-hf"
        XCTAssertEqual(try run(["merge", "--model", gguf, "--adapter", first, "--out", hf]).stdoutLines.last, hf)
        for name in ["config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                     "special_tokens_map.json", "generation_config.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: hf + "/" + name), name)
        }
        let text = "Digits 1234 and   567, <|im_start|>user\nhi<|im_end|>"
        let t0 = try run(["tokenize", "--model", gguf, "--text", text, "--json"])
        let t1 = try run(["tokenize", "--model", hf, "--text", text, "--json"])
        XCTAssertEqual(t1.stdout, t0.stdout, "the merged directory's tokenizer equals the GGUF's")
        let attached = try score(model: gguf, ["--adapter", first])
        let merged = try score(model: hf)
        XCTAssertEqual(merged.ids, attached.ids)
        assertSameTop(merged.top, attached.top, tolerance: 1e-3)

        // The HF directory as a base: a new adapter, merged into a second HF directory (tokenizer files copied).
        let second = dir + "/second.tla"
        _ = try run(["adapter", "init", "--model", hf, "--u", "2", "--random-v", "--seed", "5", "--out", second])
        let attached2 = try score(model: hf, ["--adapter", second])
        XCTAssertNotEqual(attached2.top.map { $0.map(\.1) }, merged.top.map { $0.map(\.1) })
        let hf2 = dir + "/merged-hf-2"
        _ = try run(["merge", "--model", hf, "--adapter", second, "--out", hf2])
        for name in ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json"] {
            XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: hf2 + "/" + name)),
                           try Data(contentsOf: URL(fileURLWithPath: hf + "/" + name)), name)
        }
        assertSameTop(try score(model: hf2).top, attached2.top, tolerance: 1e-3)

        // export --to safetensors from the HF source is the same merge; PEFT export from it loads back as --adapter.
        let hf3 = dir + "/merged-hf-3"
        _ = try run(["export", "--model", hf, "--adapter", second, "--to", "safetensors", "--out", hf3])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: hf3 + "/model.safetensors")),
                       try Data(contentsOf: URL(fileURLWithPath: hf2 + "/model.safetensors")))
        let peft = dir + "/peft"
        _ = try run(["export", "--model", hf, "--adapter", second, "--to", "peft", "--out", peft])
        assertSameTop(try score(model: hf, ["--adapter", peft]).top, attached2.top, tolerance: 1e-4)

        // A merged GGUF needs a GGUF source.
        assertCleanError(try CLI.run(["merge", "--model", hf, "--adapter", second, "--out", dir + "/x.gguf"]),
                         contains: "needs a GGUF model")
    }

    /// A GGUF whose tokenizer cannot be written as Hugging Face files still merges into a directory (config.json and
    /// model.safetensors), with a one-line warning naming the problem.
    func testGGUFWithUnsupportedTokenizerMergesWithoutTokenizerFiles() throws {
        let source = try GGUFFile(path: try CLI.modelPath("smollm2-135m"))
        var writer = GGUFWriter()
        for key in source.metadataKeys {
            try writer.set(key, key == "tokenizer.ggml.pre" ? .string("no-such-pre") : try XCTUnwrap(source.metadata[key]))
        }
        for t in source.tensors {
            try writer.addTensor(name: t.name, dims: t.dims, type: t.type, bytes: [UInt8](source.rawData(t)))
        }
        let gguf = dir + "/odd-tokenizer.gguf"
        try writer.write(to: gguf)
        let adapter = dir + "/zero.tla"
        _ = try run(["adapter", "init", "--model", gguf, "--out", adapter])
        let hf = dir + "/merged"
        let r = try run(["merge", "--model", gguf, "--adapter", adapter, "--out", hf, "--dtype", "bf16"])
        XCTAssertEqual(r.stdoutLines.last, hf)
        XCTAssertEqual(r.stderrLines.count, 1, r.stderr)
        XCTAssertTrue(r.stderr.hasPrefix("warning: ") && r.stderr.contains("no-such-pre"), r.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: hf + "/model.safetensors"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: hf + "/tokenizer.json"))
    }
}
