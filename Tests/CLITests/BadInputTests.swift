import Foundation
import ModelFiles
import XCTest

/// Bad files and inputs end with one `error:` line and a non-zero exit, never a crash.
final class BadInputTests: TemporaryDirectoryTestCase {
    /// The first `count` bytes of the SmolLM2 GGUF.
    func truncatedModel(_ count: Int) throws -> String {
        let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: try CLI.modelPath("smollm2-135m")))
        defer { try? handle.close() }
        return try write("truncated-\(count).gguf", [UInt8](handle.readData(ofLength: count)))
    }

    func testTruncatedGGUFInMetadata() throws {
        let path = try truncatedModel(200_000)
        for command in [["info"], ["score", "--ids", "1,2"], ["generate", "--text", "hi"], ["tokenize", "--text", "hi"]] {
            assertCleanError(try CLI.run(command + ["--model", path]), contains: "truncated")
        }
    }

    func testTruncatedGGUFInTensorData() throws {
        let path = try truncatedModel(50_000_000)
        for command in [["info"], ["score", "--ids", "1,2"]] {
            assertCleanError(try CLI.run(command + ["--model", path]), contains: "past the end of the file")
        }
    }

    func testWrongMagic() throws {
        let path = try write("wrong.gguf", Array("GGUX".utf8) + [UInt8](repeating: 0, count: 60))
        for command in [["info"], ["score", "--ids", "1"], ["generate", "--text", "x"]] {
            assertCleanError(try CLI.run(command + ["--model", path]), contains: "bad magic")
        }
    }

    func testEmptyFile() throws {
        let path = try write("empty.gguf", [])
        assertCleanError(try CLI.run(["info", "--model", path]), contains: "empty.gguf")
    }

    func testDirectoryWithoutConfig() throws {
        assertCleanError(try CLI.run(["info", "--model", dir]), contains: "without config.json")
        assertCleanError(try CLI.run(["score", "--model", dir, "--ids", "1"]), contains: "without config.json")
    }

    func testNonexistentPath() throws {
        let path = dir + "/missing.gguf"
        for command in [["info"], ["tokenize", "--text", "a"], ["score", "--ids", "1"], ["generate", "--text", "a"]] {
            assertCleanError(try CLI.run(command + ["--model", path]), contains: "not found")
        }
    }

    func testInvalidUTF8MessagesFile() throws {
        let text = Array(#"[{"role":"user","content":"caf"#.utf8) + [0xC3, 0x28] + Array(#""}]"#.utf8)
        let path = try write("bad-utf8.json", text)
        for command in ["tokenize", "score", "generate"] {
            let r = try CLI.run([command, "--model", "smollm2-135m", "--messages", path])
            assertCleanError(r, contains: "not valid UTF-8")
            XCTAssertTrue(r.stderr.contains("offset 30"), r.stderr)
        }
    }

    func testInvalidUTF8TextFile() throws {
        let path = try write("bad.txt", Array("hello ".utf8) + [0xFF] + Array(" world".utf8))
        for command in ["tokenize", "score", "generate"] {
            assertCleanError(try CLI.run([command, "--model", "smollm2-135m", "--text-file", path]),
                             contains: "not valid UTF-8 (invalid byte 0xff at offset 6)")
        }
    }

    func testMalformedMessagesJSON() throws {
        let cases: [(String, String)] = [
            (#"[{"role":"user","content":"hi"}"#, "not valid JSON"),
            (#"{"role":"user","content":"hi"}"#, "must hold a JSON array"),
            (#"[{"role":"user"}]"#, "message 0 has no string \"content\""),
            (#"[{"role":"user","content":"a"},{"content":"b"}]"#, "message 1 has no string \"role\""),
            (#"[{"role":"user","content":3}]"#, "message 0 has no string \"content\""),
            ("[]", "holds no messages"),
            (#"["hello"]"#, "message 0 is not a JSON object"),
        ]
        for (i, (json, fragment)) in cases.enumerated() {
            let path = try write("messages-\(i).json", Array(json.utf8))
            for command in ["tokenize", "generate"] {
                assertCleanError(try CLI.run([command, "--model", "smollm2-135m", "--messages", path]), contains: fragment)
            }
        }
    }

    func testMissingMessagesFile() throws {
        assertCleanError(try CLI.run(["tokenize", "--model", "smollm2-135m", "--messages", dir + "/none.json"]),
                         contains: "none.json")
    }

    func testTokenIdsOutsideTheVocabulary() throws {
        assertCleanError(try CLI.run(["score", "--model", "smollm2-135m", "--ids", "1,49152"]), contains: "49152")
        assertCleanError(try CLI.run(["score", "--model", "smollm2-135m", "--ids", "1,x"]), contains: "\"x\" is not a token id")
    }
}

/// Well-formed GGUF files the engine or tokenizer cannot use.
final class UnsupportedModelTests: TemporaryDirectoryTestCase {
    func testUnknownArchitecture() throws {
        var w = GGUFWriter()
        try w.set("general.architecture", .string("mamba"))
        try w.addTensor(name: "token_embd.weight", dims: [4, 8], values: [Float](repeating: 0.5, count: 32), as: .f32)
        let path = dir + "/mamba.gguf"
        try w.write(to: path)
        let info = try CLI.run(["info", "--model", path])
        XCTAssertEqual(info.status, 0, "info describes any readable GGUF: \(info.stderr)")
        XCTAssertTrue(info.stdout.contains("mamba"), info.stdout)
        assertCleanError(try CLI.run(["score", "--model", path, "--ids", "1"]), contains: "unsupported model architecture 'mamba'")
        assertCleanError(try CLI.run(["bench", "--model", path, "--prompt-tokens", "4", "--new-tokens", "2"]),
                         contains: "unsupported model architecture")
    }

    func testMissingTokenizer() throws {
        var w = GGUFWriter()
        try w.set("general.architecture", .string("llama"))
        try w.addTensor(name: "token_embd.weight", dims: [4, 8], values: [Float](repeating: 0.5, count: 32), as: .f32)
        let path = dir + "/no-tokenizer.gguf"
        try w.write(to: path)
        for command in [["tokenize", "--text", "hi"], ["generate", "--text", "hi"], ["score", "--text", "hi"]] {
            assertCleanError(try CLI.run(command + ["--model", path]), contains: "tokenizer.ggml.model is missing")
        }
    }
}
