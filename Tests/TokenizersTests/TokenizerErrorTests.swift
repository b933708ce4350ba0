import Foundation
import ModelFiles
import Tokenizers
import XCTest

/// Bad tokenizer input gets a clear error naming the problem (tiny GGUF files written here, broken JSON).
final class TokenizerErrorTests: XCTestCase {
    /// Writes a GGUF v3 file with only metadata and returns it opened.
    func gguf(_ kv: [(String, GGUFValue)]) throws -> GGUFFile {
        var out: [UInt8] = []
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out += $0 } }
        func str(_ s: String) { u64(UInt64(s.utf8.count)); out += Array(s.utf8) }
        func value(_ v: GGUFValue) {
            switch v {
            case .string(let s): str(s)
            case .uint32(let x): u32(x)
            case .int32(let x): u32(UInt32(bitPattern: x))
            case .bool(let b): out.append(b ? 1 : 0)
            case .array(let t, let items):
                u32(t)
                u64(UInt64(items.count))
                items.forEach(value)
            default: XCTFail("writer does not handle \(v)")
            }
        }
        u32(0x4655_4747)
        u32(3)
        u64(0)
        u64(UInt64(kv.count))
        for (k, v) in kv {
            str(k)
            u32(v.typeCode)
            value(v)
        }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tok-\(UUID().uuidString).gguf")
        try Data(out).write(to: url)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return try GGUFFile(path: url.path)
    }

    func strings(_ s: [String]) -> GGUFValue { .array(elementType: 8, s.map { .string($0) }) }

    /// A small valid byte-level vocabulary: all 256 byte characters plus "ab" and "<|end|>".
    var minimal: [(String, GGUFValue)] {
        var tokens = (0 ..< 256).map { b -> String in
            let printable = (0x21 ... 0x7E).contains(b) || (0xA1 ... 0xAC).contains(b) || (0xAE ... 0xFF).contains(b)
            var n = 256
            if !printable { for x in 0 ..< b where !((0x21 ... 0x7E).contains(x) || (0xA1 ... 0xAC).contains(x) || (0xAE ... 0xFF).contains(x)) { n += 1 } }
            return String(Unicode.Scalar(UInt32(printable ? b : n))!)
        }
        tokens += ["ab", "<|end|>"]
        let types = tokens.indices.map { GGUFValue.int32($0 == tokens.count - 1 ? 3 : 1) }
        return [
            ("tokenizer.ggml.model", .string("gpt2")),
            ("tokenizer.ggml.pre", .string("qwen2")),
            ("tokenizer.ggml.tokens", strings(tokens)),
            ("tokenizer.ggml.token_type", .array(elementType: 5, types)),
            ("tokenizer.ggml.merges", strings(["a b"])),
            ("tokenizer.ggml.eos_token_id", .uint32(UInt32(tokens.count - 1))),
        ]
    }

    func expectError(_ kv: [(String, GGUFValue)], _ fragments: String..., file: StaticString = #filePath, line: UInt = #line) throws {
        let g = try gguf(kv)
        XCTAssertThrowsError(try Tokenizer(gguf: g), file: file, line: line) { error in
            for f in fragments {
                XCTAssertTrue("\(error)".contains(f), "\(error) should mention \(f)", file: file, line: line)
            }
        }
    }

    func testMinimalVocabularyWorks() throws {
        let tok = try Tokenizer(gguf: try gguf(minimal))
        XCTAssertEqual(tok.encode("ab<|end|>", parseSpecial: true), [256, 257])
        XCTAssertEqual(try tok.decode(tok.encode("héllo wörld\n")), "héllo wörld\n")
        XCTAssertEqual(tok.endOfTurnIds, [257])
    }

    func testMissingFields() throws {
        try expectError(minimal.filter { $0.0 != "tokenizer.ggml.model" }, "tokenizer.ggml.model")
        try expectError(minimal.filter { $0.0 != "tokenizer.ggml.tokens" }, "tokenizer.ggml.tokens")
        try expectError(minimal.filter { $0.0 != "tokenizer.ggml.merges" }, "tokenizer.ggml.merges")
        try expectError(minimal.filter { $0.0 != "tokenizer.ggml.pre" }, "tokenizer.ggml.pre")
    }

    func testUnsupportedKinds() throws {
        try expectError(minimal.map { $0.0 == "tokenizer.ggml.model" ? ($0.0, .string("llama")) : $0 }, "\"llama\"", "not supported")
        try expectError(minimal.map { $0.0 == "tokenizer.ggml.pre" ? ($0.0, .string("deepseek-llm")) : $0 }, "deepseek-llm", "not supported")
    }

    func testInconsistentFields() throws {
        try expectError(minimal.map { $0.0 == "tokenizer.ggml.eos_token_id" ? ($0.0, .uint32(999)) : $0 }, "eos_token_id", "999")
        try expectError(minimal.map { $0.0 == "tokenizer.ggml.token_type" ? ($0.0, .array(elementType: 5, [.int32(1)])) : $0 }, "token_type")
        try expectError(minimal.map { $0.0 == "tokenizer.ggml.merges" ? ($0.0, strings(["nospace"])) : $0 }, "merges[0]")
    }

    func testTokenizerJSONErrors() throws {
        func expectJSONError(_ json: String, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try Tokenizer(tokenizerJSON: Data(json.utf8)), file: file, line: line) { error in
                XCTAssertTrue("\(error)".contains(fragment), "\(error) should mention \(fragment)", file: file, line: line)
            }
        }
        expectJSONError("{\"model\": ", "malformed JSON")
        expectJSONError("[1, 2]", "not a JSON object")
        expectJSONError("{}", "model")
        expectJSONError(#"{"model": {"type": "Unigram", "vocab": []}}"#, "Unigram")
        expectJSONError(#"{"model": {"type": "WordPiece", "vocab": {}}}"#, "WordPiece")
        expectJSONError(#"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [], "byte_fallback": true}}"#, "byte_fallback")
        expectJSONError(#"{"model": {"type": "BPE", "vocab": {"a": 0}}}"#, "merges")
        expectJSONError(#"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": [3]}}"#, "merges[0]")
        expectJSONError(#"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}"#, "byte-level")
        expectJSONError(
            #"{"pre_tokenizer": {"type": "Split", "pattern": {"Regex": "\\w+"}, "behavior": "Isolated"}, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}"#,
            "Split pattern")
        expectJSONError(
            #"{"normalizer": {"type": "NFKC"}, "pre_tokenizer": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}"#,
            "NFKC")
        expectJSONError(
            #"{"pre_tokenizer": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": {"a": 0, "b": 0}, "merges": []}}"#,
            "id 0")
        expectJSONError(#"{"pre_tokenizer": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": {"a": 1e300}, "merges": []}}"#, "valid id")
        expectJSONError(#"{"pre_tokenizer": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": {"a": -1}, "merges": []}}"#, "valid id")
        expectJSONError(
            #"{"added_tokens": [{"id": 99999999999, "content": "x"}], "pre_tokenizer": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}"#,
            "added_tokens[0]")
    }

    func testMissingTokenizerJSONInDirectory() {
        XCTAssertThrowsError(try Tokenizer(huggingFaceDirectory: "/nonexistent-dir")) { error in
            XCTAssertTrue("\(error)".contains("tokenizer.json"), "\(error)")
        }
    }
}
