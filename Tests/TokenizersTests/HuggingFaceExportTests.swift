import Foundation
import ModelFiles
import Tokenizers
import XCTest

/// The Hugging Face tokenizer files written from a GGUF (`Tokenizer.huggingFaceFiles(gguf:)`), for both models:
/// loaded back with `Tokenizer(huggingFaceDirectory:)` they tokenize the whole corpus exactly like the GGUF tokenizer
/// and llama.cpp (Fixtures/tokenizer_golden.json), and like transformers on the same files
/// (Fixtures/hf_export_autotokenizer.json, written by Fixtures/check_hf_export_autotokenizer.py from merged directories
/// that `tinylora merge` wrote from the GGUFs: the same files, beside a config.json).
final class HuggingFaceExportTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("hf-export-\(getpid())-\(UUID().uuidString)").path
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Writes the files of `model` and loads them back.
    func exported(_ model: String) throws -> (gguf: Tokenizer, hf: Tokenizer, path: String) {
        let gguf = try TestSupport.gguf(model)
        var path = (dir as NSString).appendingPathComponent(model)
        if let keep = ProcessInfo.processInfo.environment["TINYLORA_WRITE_HF_TOKENIZER"] {
            path = (keep as NSString).appendingPathComponent(model)
        }
        try Tokenizer.writeHuggingFaceFiles(gguf: gguf, to: path)
        return (try TestSupport.tokenizer(model), try Tokenizer(huggingFaceDirectory: path), path)
    }

    /// The ids of each text, as the check script digests them: ids joined by ",", texts joined by "\n".
    static func digest(_ ids: [[Int]]) -> String {
        SHA256.hexDigest(ids.map { $0.map(String.init).joined(separator: ",") }.joined(separator: "\n"))
    }

    func check(_ model: String) throws {
        let (gguf, hf, path) = try exported(model)
        let golden = try TestSupport.json("tokenizer_golden.json")
        let models = try XCTUnwrap(golden["models"] as? [String: Any])
        let corpus = try TestSupport.corpus()
        let random = try XCTUnwrap(golden["random_utf8_hex"] as? [String]).map(TestSupport.fromHex)
        let reference = try XCTUnwrap((models[model] as? [String: Any])?["ids"] as? [[Int]])
        let referenceRandom = try XCTUnwrap((models[model + "/random"] as? [String: Any])?["ids"] as? [[Int]])

        // Same pipeline: pre-tokenizer, vocabulary, special tokens, template.
        XCTAssertEqual(hf.preTokenizer, gguf.preTokenizer)
        XCTAssertEqual(hf.vocabularySize, gguf.vocabularySize)
        XCTAssertEqual(hf.bosTokenId, gguf.bosTokenId)
        XCTAssertEqual(hf.eosTokenId, gguf.eosTokenId)
        XCTAssertEqual(hf.padTokenId, gguf.padTokenId)
        XCTAssertEqual(hf.addsBOS, gguf.addsBOS)
        XCTAssertEqual(hf.endOfTurnIds, gguf.endOfTurnIds)
        XCTAssertNotNil(gguf.chatTemplate)
        XCTAssertEqual(hf.chatTemplate, gguf.chatTemplate)

        // Every corpus string and random string: llama.cpp's ids (parsing special tokens), and the GGUF
        // tokenizer's ids without special-token parsing.
        var corpusIds: [[Int]] = []
        var failures = 0
        for (text, want) in zip(corpus, reference) {
            let got = hf.encode(text, parseSpecial: true)
            corpusIds.append(got)
            let plain = hf.encode(text, parseSpecial: false)
            if got != want || plain != gguf.encode(text, parseSpecial: false) {
                failures += 1
                if failures <= 10 { XCTFail("\(model): \(String(reflecting: text))\n got  \(got)\n want \(want)") }
            }
            XCTAssertEqual(try hf.decode(got), try gguf.decode(want))
        }
        var randomIds: [[Int]] = []
        for (text, want) in zip(random, referenceRandom) {
            let got = hf.encode(text, parseSpecial: true)
            randomIds.append(got)
            if got != want {
                failures += 1
                if failures <= 10 { XCTFail("\(model) random: \(got) want \(want)") }
            }
        }
        XCTAssertEqual(failures, 0, "\(model): \(failures) strings tokenize differently")
        XCTAssertEqual(corpusIds.count, corpus.count)

        // transformers on the same files (digests recorded by the check script). TokenizersBackend runs tokenizer.json
        // as written: our ids exactly. AutoTokenizer too, except that for model_type qwen2 transformers forces its
        // Qwen2Tokenizer, which NFC-normalizes first: our ids for NFC(text).
        let transformers = try XCTUnwrap(try TestSupport.json("hf_export_autotokenizer.json")[model] as? [String: Any])
        let asWritten = try XCTUnwrap(transformers["tokenizer_json"] as? [String: Any])
        XCTAssertEqual(asWritten["corpus_ids_sha256"] as? String, Self.digest(corpusIds))
        XCTAssertEqual(asWritten["random_ids_sha256"] as? String, Self.digest(randomIds))
        XCTAssertEqual(transformers["corpus_strings"] as? Int, corpus.count)
        XCTAssertEqual(transformers["chat_template_equal"] as? Bool, true)
        let auto = try XCTUnwrap(transformers["autotokenizer"] as? [String: Any])
        let nfc = auto["normalizer"] as? String == "NFC()"
        XCTAssertEqual(nfc, model.hasPrefix("qwen"))
        func autoIds(_ text: String) -> [Int] {
            hf.encode(nfc ? text.precomposedStringWithCanonicalMapping : text, parseSpecial: true)
        }
        XCTAssertEqual(auto["corpus_ids_sha256"] as? String, Self.digest(corpus.map(autoIds)))
        XCTAssertEqual(auto["random_ids_sha256"] as? String, Self.digest(random.map(autoIds)))
        let chat = try hf.encodeChat([ChatMessage(role: "user", content: "What is 12+30?")], addGenerationPrompt: true)
        XCTAssertEqual(transformers["chat_ids"] as? [Int], chat)

        // The side files are JSON objects naming the same special tokens.
        let special = try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: path + "/special_tokens_map.json"))) as? [String: Any]
        XCTAssertEqual(special?["eos_token"] as? String, gguf.eosToken)
        let generation = try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: path + "/generation_config.json"))) as? [String: Any]
        XCTAssertEqual(generation?["bos_token_id"] as? Int, gguf.bosTokenId)
    }

    func testSmolLMExportTokenizesLikeLlamaCpp() throws { try check("smollm2-135m") }
    func testQwenExportTokenizesLikeLlamaCpp() throws { try check("qwen2.5-coder-0.5b") }

    /// SmolLM2's `smollm` pre-tokenizer is written as Digits (individual) then ByteLevel with the GPT-2 regex, so
    /// Hugging Face tools split "   1" as llama.cpp does (the plain GPT-2 fallback would not); Qwen2's as its Split
    /// regex (one digit per piece) then ByteLevel without regex.
    func testPreTokenizerChains() throws {
        let smol = try JSONSerialization.jsonObject(
            with: try XCTUnwrap(Tokenizer.huggingFaceFiles(gguf: TestSupport.gguf("smollm2-135m"))["tokenizer.json"]))
        let pre = try XCTUnwrap((smol as? [String: Any])?["pre_tokenizer"] as? [String: Any])
        let steps = try XCTUnwrap(pre["pretokenizers"] as? [[String: Any]])
        XCTAssertEqual(steps.map { $0["type"] as? String }, ["Digits", "ByteLevel"])
        XCTAssertEqual(steps[0]["individual_digits"] as? Bool, true)
        XCTAssertEqual(steps[1]["use_regex"] as? Bool, true)
        let tok = try TestSupport.tokenizer("smollm2-135m")
        XCTAssertEqual(tok.preTokenize("a   12"), ["a", "   ", "1", "2"])  // GPT-2 alone: "a", "  ", " 12"

        let qwen = try JSONSerialization.jsonObject(
            with: try XCTUnwrap(Tokenizer.huggingFaceFiles(gguf: TestSupport.gguf("qwen2.5-coder-0.5b"))["tokenizer.json"]))
        let qsteps = try XCTUnwrap(((qwen as? [String: Any])?["pre_tokenizer"] as? [String: Any])?["pretokenizers"] as? [[String: Any]])
        XCTAssertEqual(qsteps.map { $0["type"] as? String }, ["Split", "ByteLevel"])
        XCTAssertEqual((qsteps[0]["pattern"] as? [String: Any])?["Regex"] as? String,
                       #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#)
        XCTAssertEqual(qsteps[1]["use_regex"] as? Bool, false)
    }
}
