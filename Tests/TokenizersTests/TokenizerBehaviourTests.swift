import Foundation
import ModelFiles
import Tokenizers
import XCTest

/// Behaviour around the golden ids: special-token parsing, streaming decode, errors, speed.
final class TokenizerBehaviourTests: XCTestCase {
    func testControlTokensOnlyWhenAsked() throws {
        let tok = try TestSupport.tokenizer("qwen2.5-coder-0.5b")
        let imStart = try XCTUnwrap(tok.tokenToId("<|im_start|>"))
        let withSpecial = tok.encode("<|im_start|>user", parseSpecial: true)
        XCTAssertEqual(withSpecial.first, imStart)
        let plain = tok.encode("<|im_start|>user")
        XCTAssertFalse(plain.contains(imStart))
        XCTAssertEqual(try tok.decode(plain), "<|im_start|>user")
        // The user-defined <tool_call> token is matched whole either way, as in llama.cpp.
        let toolCall = try XCTUnwrap(tok.tokenToId("<tool_call>"))
        XCTAssertEqual(tok.encode("<tool_call>"), [toolCall])
        XCTAssertEqual(try tok.decode([imStart], skipSpecial: true), "")
        XCTAssertEqual(try tok.decode([imStart]), "<|im_start|>")
    }

    func testSpecialIds() throws {
        let qwen = try TestSupport.tokenizer("qwen2.5-coder-0.5b")
        XCTAssertEqual(qwen.vocabularySize, 151_936)
        XCTAssertEqual(qwen.eosTokenId.flatMap(qwen.idToToken), "<|im_end|>")
        XCTAssertTrue(qwen.endOfTurnIds.contains(try XCTUnwrap(qwen.tokenToId("<|im_end|>"))))
        XCTAssertTrue(qwen.endOfTurnIds.contains(try XCTUnwrap(qwen.tokenToId("<|endoftext|>"))))
        XCTAssertFalse(qwen.endOfTurnIds.contains(try XCTUnwrap(qwen.tokenToId("<|im_start|>"))))
        XCTAssertFalse(qwen.addsBOS)
        let smol = try TestSupport.tokenizer("smollm2-135m")
        XCTAssertEqual(smol.vocabularySize, 49_152)
        XCTAssertEqual(smol.eosTokenId.flatMap(smol.idToToken), "<|im_end|>")
        XCTAssertTrue(smol.endOfTurnIds.contains(try XCTUnwrap(smol.tokenToId("<|endoftext|>"))))
        XCTAssertEqual(smol.encode("hi", addBOS: true).first, smol.bosTokenId)
        XCTAssertNil(smol.idToToken(-1))
        XCTAssertNil(smol.idToToken(49_152))
    }

    func testStreamingDecodeHoldsSplitCharacters() throws {
        let tok = try TestSupport.tokenizer("qwen2.5-coder-0.5b")
        // Single byte tokens split multi-byte characters in the middle.
        let text = "a€😀中b"
        let byteIds = try Array(text.utf8).map { b -> Int in
            try XCTUnwrap(tok.tokenToId(String(Unicode.Scalar(Self.byteLevelScalar(b))!)))
        }
        var decoder = tok.streamingDecoder()
        var pieces: [String] = []
        for id in byteIds { pieces.append(try decoder.add(id)) }
        pieces.append(decoder.finish())
        XCTAssertEqual(pieces.joined(), text)
        // Every emitted piece is whole characters: "a", then "" "" "€", ...
        XCTAssertEqual(pieces.filter { !$0.isEmpty }, ["a", "€", "😀", "中", "b"])
        // Real token ids of a mixed string stream to the same text as a plain decode.
        let corpus = try TestSupport.corpus()
        for s in corpus {
            let ids = tok.encode(s, parseSpecial: true)
            var d = tok.streamingDecoder()
            var out = ""
            for id in ids { out += try d.add(id) }
            out += d.finish()
            XCTAssertEqual(out, try tok.decode(ids), String(reflecting: s))
        }
    }

    func testStreamingDecodeFlushesInvalidBytes() throws {
        let tok = try TestSupport.tokenizer("smollm2-135m")
        var d = tok.streamingDecoder()
        XCTAssertEqual(d.add(bytes: [0xE2, 0x82]), "")  // first two bytes of "€"
        XCTAssertEqual(d.finish(), "\u{FFFD}")  // cut short at the end
        XCTAssertEqual(d.add(bytes: [0xFF, 0x41]), "\u{FFFD}A")  // never valid: emitted right away
        XCTAssertEqual(d.add(bytes: [0xF0, 0x9F]), "")
        XCTAssertEqual(d.add(bytes: [0x41]), "\u{FFFD}A")  // the held prefix cannot continue
    }

    func testInvalidUTF8IsAnError() throws {
        let tok = try TestSupport.tokenizer("smollm2-135m")
        XCTAssertEqual(try tok.encode(bytes: Array("ok €".utf8)), tok.encode("ok €"))
        for (bytes, offset) in [([0x61, 0xFF], 1), ([0xC3], 0), ([0x61, 0x62, 0xED, 0xA0, 0x80], 2), ([0xC0, 0xAF], 0)] as [([UInt8], Int)] {
            XCTAssertThrowsError(try tok.encode(bytes: bytes)) { error in
                XCTAssertTrue("\(error)".contains("not valid UTF-8") && "\(error)".contains("offset \(offset)"), "\(error)")
            }
        }
    }

    func testIdsOutOfRangeInDecode() throws {
        let tok = try TestSupport.tokenizer("smollm2-135m")
        XCTAssertThrowsError(try tok.decode([1, 49_152])) { error in
            XCTAssertTrue("\(error)".contains("49152"), "\(error)")
        }
        XCTAssertThrowsError(try tok.decode([-3]))
        var d = tok.streamingDecoder()
        XCTAssertThrowsError(try d.add(1_000_000))
    }

    func testEncodingOneMegabyteIsFast() throws {
        let tok = try TestSupport.tokenizer("qwen2.5-coder-0.5b")
        // Mostly fresh words (few BPE cache hits): corpus strings mixed with made-up words from several scripts.
        let corpus = try TestSupport.corpus()
        let alphabets = [Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"), Array("абвгдежзийклмнопрст"), Array("的一是不了人我在有他这中大来上"),
                         Array("αβγδεζηθικλμνξοπρστ"), Array("0123456789"), Array(" \n\t.,;:!?()[]{}<>=+-*/'\"")]
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next(_ n: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(n))
        }
        var text = ""
        while text.utf8.count < 1 << 20 {
            if next(4) == 0 { text += corpus[next(corpus.count)] }
            let letters = alphabets[next(alphabets.count)]
            for _ in 0 ..< 1 + next(12) { text.append(letters[next(letters.count)]) }
            text += next(3) == 0 ? "\n" : " "
        }
        _ = tok.encode(corpus.joined())
        let start = Date()
        let ids = tok.encode(text, parseSpecial: true)
        let seconds = Date().timeIntervalSince(start)
        XCTAssertEqual(try tok.decode(ids), text)
        #if !DEBUG  // the speed contract is for optimized builds (swift test -c release)
        XCTAssertLessThan(seconds, 1.0, "encoding 1 MiB took \(seconds) s")
        #endif
        print("encoded \(text.utf8.count) bytes into \(ids.count) tokens in \(seconds) s")
        // A long run with no pre-token boundary stays fast too (BPE on a 100k-byte piece).
        let long = String(repeating: "ab", count: 50_000)
        let t0 = Date()
        XCTAssertEqual(try tok.decode(tok.encode(long)), long)
        #if !DEBUG
        XCTAssertLessThan(Date().timeIntervalSince(t0), 1.0)
        #endif
    }

    static func byteLevelScalar(_ b: UInt8) -> UInt32 {
        var n: UInt32 = 256
        for x in 0 ..< 256 {
            let printable = (0x21 ... 0x7E).contains(x) || (0xA1 ... 0xAC).contains(x) || (0xAE ... 0xFF).contains(x)
            if x == Int(b) { return printable ? UInt32(x) : n }
            if !printable { n += 1 }
        }
        return 0
    }
}
