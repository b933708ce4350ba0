import Foundation
import Tokenizers
import XCTest

/// Token ids on the committed corpus equal llama.cpp's (and transformers') for both models
/// (Fixtures/tokenizer_golden.json, written by Fixtures/make_tokenizer_fixtures.py).
final class GGUFTokenizerGoldenTests: XCTestCase {
    func checkModel(_ model: String) throws {
        let golden = try TestSupport.json("tokenizer_golden.json")
        let corpus = try TestSupport.corpus()
        XCTAssertGreaterThanOrEqual(corpus.count, 250)
        let models = try XCTUnwrap(golden["models"] as? [String: Any])
        let entry = try XCTUnwrap(models[model] as? [String: Any])
        let expected = try XCTUnwrap(entry["ids"] as? [[Int]])
        XCTAssertEqual(expected.count, corpus.count)
        let tok = try TestSupport.tokenizer(model)
        var failures = 0
        for (text, want) in zip(corpus, expected) {
            let got = tok.encode(text, parseSpecial: true)
            if got != want {
                failures += 1
                if failures <= 15 {
                    XCTFail("\(model): \(String(reflecting: text))\n got  \(got)\n want \(want)")
                }
            }
        }
        XCTAssertEqual(failures, 0, "\(model): \(failures) of \(corpus.count) strings differ")
    }

    /// The pre-tokenizer alone cuts each corpus string exactly where transformers' does (this isolates the
    /// scanners, including the `\s+(?!\S)` lookahead, from BPE).
    func checkPieces(_ model: String) throws {
        let golden = try TestSupport.json("tokenizer_golden.json")
        let corpus = try TestSupport.corpus()
        let entry = try XCTUnwrap((golden["models"] as? [String: Any])?[model] as? [String: Any])
        let expected = try XCTUnwrap(entry["pretokenizer_pieces"] as? [[String]])
        let tok = try TestSupport.tokenizer(model)
        var failures = 0
        for (text, want) in zip(corpus, expected) {
            // transformers reports pieces in byte-level spelling.
            let got = tok.preTokenize(text).map { piece in
                String(String.UnicodeScalarView(piece.utf8.map { Unicode.Scalar(TokenizerBehaviourTests.byteLevelScalar($0))! }))
            }
            if got != want {
                failures += 1
                if failures <= 10 { XCTFail("\(model): \(String(reflecting: text))\n got  \(got)\n want \(want)") }
            }
        }
        XCTAssertEqual(failures, 0)
    }

    func testSmolLMPreTokenizerPieces() throws { try checkPieces("smollm2-135m") }
    func testQwenPreTokenizerPieces() throws { try checkPieces("qwen2.5-coder-0.5b") }

    /// Seeded random strings over all of Unicode (Fixtures/tokenizer_corpus.py `random_corpus`): the character
    /// classes (letters, numbers, white space) agree with llama.cpp's tables.
    func checkRandom(_ model: String) throws {
        let golden = try TestSupport.json("tokenizer_golden.json")
        let texts = try XCTUnwrap(golden["random_utf8_hex"] as? [String]).map(TestSupport.fromHex)
        let entry = try XCTUnwrap((golden["models"] as? [String: Any])?[model + "/random"] as? [String: Any])
        let expected = try XCTUnwrap(entry["ids"] as? [[Int]])
        XCTAssertEqual(texts.count, expected.count)
        let tok = try TestSupport.tokenizer(model)
        var failures = 0
        for (text, want) in zip(texts, expected) {
            let got = tok.encode(text, parseSpecial: true)
            if got != want {
                failures += 1
                if failures <= 10 {
                    XCTFail("\(model): \(text.unicodeScalars.map { String($0.value, radix: 16) })\n got  \(got)\n want \(want)")
                }
            }
        }
        XCTAssertEqual(failures, 0)
    }

    func testSmolLMRandomStrings() throws { try checkRandom("smollm2-135m") }
    func testQwenRandomStrings() throws { try checkRandom("qwen2.5-coder-0.5b") }

    func testSmolLMMatchesReference() throws { try checkModel("smollm2-135m") }
    func testQwenMatchesReference() throws { try checkModel("qwen2.5-coder-0.5b") }

    func testRoundTripDecode() throws {
        let corpus = try TestSupport.corpus()
        for model in ["smollm2-135m", "qwen2.5-coder-0.5b"] {
            let tok = try TestSupport.tokenizer(model)
            let missing = Set(tok.bytesWithoutToken)
            for text in corpus where !text.utf8.contains(where: missing.contains) {
                XCTAssertEqual(try tok.decode(tok.encode(text, parseSpecial: true)), text, "\(model): \(String(reflecting: text))")
                XCTAssertEqual(try tok.decode(tok.encode(text)), text, "\(model): \(String(reflecting: text))")
            }
        }
    }
}
