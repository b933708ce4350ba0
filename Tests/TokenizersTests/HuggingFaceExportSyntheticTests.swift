import Foundation
import ModelFiles
import Tokenizers
import XCTest

/// `Tokenizer.huggingFaceFiles(gguf:)` on a small GGUF built here, for the branches the two real models do not take:
/// a Llama-3 style `llama-bpe` pre-tokenizer (Split with up to 3 digits per piece, `ignore_merges`), a BOS that the
/// model adds (TemplateProcessing post-processor, `add_bos_token`), and a user-defined (non-special) added token.
final class HuggingFaceExportSyntheticTests: XCTestCase {
    /// 256 byte-level tokens, a few merges, `<s>` / `</s>` (control) and `<tool>` (user-defined).
    static func writeGGUF(to path: String) throws {
        var tokens = (0 ..< 256).map { String(UnicodeScalar(TokenizerBehaviourTests.byteLevelScalar(UInt8($0)))!) }
        var types = [GGUFValue](repeating: .int32(1), count: 256)
        let merges = ["Ġ t", "h e", "Ġt he", "1 2", "12 3", "Ġ T", "Ġ Ġ"]
        for m in merges { tokens.append(m.replacingOccurrences(of: " ", with: "")); types.append(.int32(1)) }
        tokens.append("Ġhe")  // a whole token no merge reaches: only ignore_merges produces it
        types.append(.int32(1))
        for (t, type) in [("<s>", 3), ("</s>", 3), ("<tool>", 4)] { tokens.append(t); types.append(.int32(Int32(type))) }
        var w = GGUFWriter()
        try w.set("general.architecture", .string("llama"))
        try w.set("tokenizer.ggml.model", .string("gpt2"))
        try w.set("tokenizer.ggml.pre", .string("llama-bpe"))
        try w.set("tokenizer.ggml.tokens", .array(elementType: 8, tokens.map { .string($0) }))
        try w.set("tokenizer.ggml.token_type", .array(elementType: 5, types))
        try w.set("tokenizer.ggml.merges", .array(elementType: 8, merges.map { .string($0) }))
        try w.set("tokenizer.ggml.bos_token_id", .uint32(UInt32(tokens.count - 3)))
        try w.set("tokenizer.ggml.eos_token_id", .uint32(UInt32(tokens.count - 2)))
        try w.set("tokenizer.ggml.add_bos_token", .bool(true))
        try w.set("tokenizer.chat_template", .string("{{ bos_token }}{% for m in messages %}{{ m.content }}{{ eos_token }}{% endfor %}"))
        try w.write(to: path)
    }

    func testLlama3StyleTokenizerWithBOS() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hf-export-synthetic-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/tiny.gguf"
        try Self.writeGGUF(to: path)
        let gguf = try GGUFFile(path: path)
        try Tokenizer.writeHuggingFaceFiles(gguf: gguf, to: dir + "/hf")
        let original = try Tokenizer(gguf: gguf)
        let exported = try Tokenizer(huggingFaceDirectory: dir + "/hf")

        XCTAssertTrue(exported.addsBOS)
        XCTAssertEqual(exported.preTokenizer, original.preTokenizer)
        XCTAssertEqual(exported.bosTokenId, original.bosTokenId)
        XCTAssertEqual(exported.eosTokenId, original.eosTokenId)
        XCTAssertEqual(exported.chatTemplate, original.chatTemplate)
        for text in ["the the The he 12345 6", " <tool>x</s>  the<s>", "x  \n\n he", "", "1234567 he he"] {
            for special in [false, true] {
                XCTAssertEqual(exported.encode(text, parseSpecial: special), original.encode(text, parseSpecial: special),
                               "\(String(reflecting: text)) parseSpecial \(special)")
            }
        }
        XCTAssertEqual(original.encode(" he").dropFirst().first, original.tokenToId("Ġhe"), "ignore_merges takes the whole token")
        let id = { (t: String) in original.tokenToId(t) ?? -1 }
        XCTAssertEqual(original.encode("12345"), [id("<s>"), id("123"), id("4"), id("5")], "pieces of up to 3 digits")

        let json = try XCTUnwrap(try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: dir + "/hf/tokenizer.json"))) as? [String: Any])
        let model = try XCTUnwrap(json["model"] as? [String: Any])
        XCTAssertEqual(model["ignore_merges"] as? Bool, true)
        XCTAssertEqual((model["merges"] as? [[String]])?.first, ["Ġ", "t"])
        let post = try XCTUnwrap(json["post_processor"] as? [String: Any])
        let first = try XCTUnwrap((post["single"] as? [[String: Any]])?.first?["SpecialToken"] as? [String: Any])
        XCTAssertEqual(first["id"] as? String, "<s>")
        let added = try XCTUnwrap(json["added_tokens"] as? [[String: Any]])
        XCTAssertEqual(added.map { $0["content"] as? String }, ["<s>", "</s>", "<tool>"])
        XCTAssertEqual(added.map { $0["special"] as? Bool }, [true, true, false])
        let config = try XCTUnwrap(try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: dir + "/hf/tokenizer_config.json"))) as? [String: Any])
        XCTAssertEqual(config["add_bos_token"] as? Bool, true)
        XCTAssertEqual(config["bos_token"] as? String, "<s>")
        XCTAssertNil(config["model_max_length"], "the GGUF has no context length")
    }
}
