import Foundation
import ModelFiles
import Tokenizers
import XCTest

/// The tokenizer.json path: each model's tokenizer as transformers saves it (Fixtures/tokenizer_json/<name>/,
/// vocabulary and merges stripped and put back here from the GGUF file) gives transformers' ids on the corpus
/// (Fixtures/tokenizer_json_golden.json). The `-nfc` variant adds an NFC normalizer; `-strip` sets added-token
/// lstrip/rstrip options; `-bos` a post-processor that adds the BOS token.
final class HuggingFaceTokenizerTests: XCTestCase {
    override class func tearDown() {
        for dir in directories.values { try? FileManager.default.removeItem(atPath: dir) }
        directories = [:]
        super.tearDown()
    }

    nonisolated(unsafe) static var directories: [String: String] = [:]

    /// Writes (once) a model directory with the full tokenizer.json (vocabulary and merges from the GGUF).
    func makeDirectory(_ name: String, mergesAsPairs: Bool) throws -> String {
        let cacheKey = "\(name)/\(mergesAsPairs)"
        if let dir = Self.directories[cacheKey] { return dir }
        let gguf = try TestSupport.gguf(try XCTUnwrap(name.hasPrefix("qwen") ? "qwen2.5-coder-0.5b" : "smollm2-135m"))
        let src = try TestSupport.fixture("tokenizer_json/\(name)")
        // The stripped file has `"vocab": {}` and `"merges": []`; splice the GGUF's lists in as JSON text.
        var text = try String(contentsOf: src.appendingPathComponent("tokenizer.json"), encoding: .utf8)
        let tokens = try XCTUnwrap(gguf.strings("tokenizer.ggml.tokens"))
        let merges = try XCTUnwrap(gguf.strings("tokenizer.ggml.merges"))
        let vocabJSON = "{" + tokens.enumerated().map { "\(JSONText.quoted($1)): \($0)" }.joined(separator: ",") + "}"
        let mergesJSON = "[" + merges.map { m -> String in
            guard mergesAsPairs else { return JSONText.quoted(m) }
            let parts = m.split(separator: " ", maxSplits: 1).map { JSONText.quoted(String($0)) }
            return "[" + parts.joined(separator: ",") + "]"
        }.joined(separator: ",") + "]"
        for (empty, full) in [("\"vocab\": {}", "\"vocab\": " + vocabJSON), ("\"merges\": []", "\"merges\": " + mergesJSON)] {
            XCTAssertEqual(text.components(separatedBy: empty).count, 2, "\(name)/tokenizer.json should hold \(empty) once")
            text = text.replacingOccurrences(of: empty, with: full)
        }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("tok-\(name)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try Data(text.utf8).write(to: dir.appendingPathComponent("tokenizer.json"))
        for extra in ["tokenizer_config.json", "chat_template.jinja"] {
            let from = src.appendingPathComponent(extra)
            if FileManager.default.fileExists(atPath: from.path) {
                try FileManager.default.copyItem(at: from, to: dir.appendingPathComponent(extra))
            }
        }
        Self.directories[cacheKey] = dir.path
        return dir.path
    }

    func check(_ name: String) throws {
        let golden = try XCTUnwrap(try TestSupport.json("tokenizer_json_golden.json")["models"] as? [String: Any])
        let entry = try XCTUnwrap(golden[name] as? [String: Any])
        let expected = try XCTUnwrap(entry["ids"] as? [[Int]])
        let pairs = try XCTUnwrap(entry["merges_as_pairs"] as? Bool)
        let corpus = try TestSupport.corpus()
        XCTAssertEqual(expected.count, corpus.count)
        // Both merge spellings load the same tokenizer.
        for asPairs in [pairs, !pairs] {
            let tok = try Tokenizer(huggingFaceDirectory: try makeDirectory(name, mergesAsPairs: asPairs))
            var failures = 0
            for (text, want) in zip(corpus, expected) {
                let got = tok.encode(text, parseSpecial: true, addBOS: false)
                if got != want {
                    failures += 1
                    if failures <= 10 { XCTFail("\(name): \(String(reflecting: text))\n got  \(got)\n want \(want)") }
                }
            }
            XCTAssertEqual(failures, 0, "\(name) (merges as pairs: \(asPairs)): \(failures) strings differ")
            // With the model's own BOS setting (from tokenizer_config.json or the post-processor).
            let withSpecial = try XCTUnwrap(entry["ids_add_special_tokens"] as? [[Int]])
            for (text, want) in zip(corpus, withSpecial) {
                XCTAssertEqual(tok.encode(text, parseSpecial: true), want, "\(name) add_special_tokens: \(String(reflecting: text))")
            }
        }
    }

    func testSmolLMTokenizerJSON() throws { try check("smollm2-135m") }
    func testQwenTokenizerJSON() throws { try check("qwen2.5-coder-0.5b") }
    func testQwenTokenizerJSONWithNFC() throws { try check("qwen2.5-coder-0.5b-nfc") }
    func testAddedTokenStripOptions() throws { try check("smollm2-135m-strip") }
    func testPostProcessorBOS() throws {
        try check("smollm2-135m-bos")
        let tok = try Tokenizer(huggingFaceDirectory: try makeDirectory("smollm2-135m-bos", mergesAsPairs: true))
        XCTAssertTrue(tok.addsBOS)
    }

    func testSpecialIdsAndTemplateFromConfig() throws {
        let tok = try Tokenizer(huggingFaceDirectory: try makeDirectory("qwen2.5-coder-0.5b", mergesAsPairs: true))
        let gguf = try TestSupport.tokenizer("qwen2.5-coder-0.5b")
        XCTAssertEqual(tok.eosTokenId, gguf.eosTokenId)
        XCTAssertEqual(tok.bosTokenId, gguf.bosTokenId)
        // llama.cpp adds FIM and "</s>" ids to its end-of-generation set; the tokenizer.json path keeps EOS and
        // the chat end markers.
        XCTAssertEqual(tok.endOfTurnIds, [tok.tokenToId("<|im_end|>")!, tok.tokenToId("<|endoftext|>")!])
        XCTAssertTrue(tok.endOfTurnIds.isSubset(of: gguf.endOfTurnIds))
        XCTAssertEqual(tok.vocabularySize, gguf.vocabularySize)
        XCTAssertEqual(tok.chatTemplate, gguf.chatTemplate)
        // Tokenizer.load picks the loader from the path.
        let loaded = try Tokenizer.load(path: try makeDirectory("qwen2.5-coder-0.5b", mergesAsPairs: true))
        XCTAssertEqual(loaded.encode("Hello, world!"), gguf.encode("Hello, world!"))
        XCTAssertThrowsError(try Tokenizer.load(path: "/nonexistent/model.gguf"))
    }
}
