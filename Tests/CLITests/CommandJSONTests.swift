import Foundation
import XCTest

/// The exact machine-readable forms of tokenize, score and generate, on the real models. Token ids are checked
/// against the tokenizer's golden fixture (llama.cpp's ids, made by Tests/TokenizersTests/Fixtures/
/// make_tokenizer_fixtures.py).
final class CommandJSONTests: TemporaryDirectoryTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("TokenizersTests/Fixtures")

    func fixture(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: Self.fixtures.appendingPathComponent(name))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    func writeMessages(_ messages: [[String: String]]) throws -> String {
        let data = try JSONSerialization.data(withJSONObject: messages)
        let path = dir + "/messages-\(UUID().uuidString).json"
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }

    func ints(_ value: Any?) -> [Int]? { (value as? [Any])?.compactMap { ($0 as? NSNumber)?.intValue } }

    // MARK: tokenize

    /// `tokenize --text-file F --json` prints exactly `{"ids":[...]}` with the golden ids.
    func testTokenizeTextEqualsGoldenIds() throws {
        let golden = try fixture("tokenizer_golden.json")
        let corpus = try XCTUnwrap(golden["corpus"] as? [String])
        let models = try XCTUnwrap(golden["models"] as? [String: [String: Any]])
        for name in ["smollm2-135m", "qwen2.5-coder-0.5b"] {
            let entry = try XCTUnwrap(models[name])
            let ids = try XCTUnwrap(entry["ids"] as? [[Any]])
            let disagreements = Set(((entry["disagreements"] as? [Any]) ?? []).compactMap { d -> Int? in
                if let n = d as? NSNumber { return n.intValue }
                return ((d as? [String: Any])?["index"] as? NSNumber)?.intValue
            })
            for index in stride(from: 1, to: corpus.count, by: 37) where !disagreements.contains(index) {
                let file = try write("text-\(index).txt", corpus[index])
                let r = try CLI.run(["tokenize", "--model", name, "--text-file", file, "--json"])
                XCTAssertEqual(r.status, 0, r.stderr)
                let expected = "{\"ids\":[" + ids[index].map { "\(($0 as! NSNumber).intValue)" }.joined(separator: ",") + "]}\n"
                XCTAssertEqual(r.stdout, expected, "\(name), corpus[\(index)] = \(corpus[index].debugDescription)")
            }
        }
    }

    /// `tokenize --messages F [--add-generation-prompt] --json` prints `{"ids":[...],"text":"..."}` equal to
    /// transformers' apply_chat_template.
    func testTokenizeMessagesEqualsGoldenChat() throws {
        let golden = try fixture("chat_golden.json")
        let chats = try XCTUnwrap(golden["chats"] as? [[[String: String]]])
        let models = try XCTUnwrap(golden["models"] as? [String: [String: Any]])
        for name in ["smollm2-135m", "qwen2.5-coder-0.5b"] {
            let renders = try XCTUnwrap(models[name]?["renders"] as? [[String: Any]])
            for chat in [0, 3] {
                let file = try writeMessages(chats[chat])
                for agp in [false, true] {
                    let render = renders[2 * chat + (agp ? 1 : 0)]
                    XCTAssertEqual(render["add_generation_prompt"] as? Bool, agp)
                    let r = try CLI.run(["tokenize", "--model", name, "--messages", file, "--json"]
                        + (agp ? ["--add-generation-prompt"] : []))
                    XCTAssertEqual(r.status, 0, r.stderr)
                    XCTAssertTrue(r.stdout.hasPrefix("{\"ids\":["), r.stdout)
                    let object = try CLI.jsonObject(r)
                    XCTAssertEqual(Set(object.keys), ["ids", "text"])
                    XCTAssertEqual(object["text"] as? String, render["text"] as? String, "\(name) chat \(chat) agp \(agp)")
                    XCTAssertEqual(ints(object["ids"]), ints(render["ids"]), "\(name) chat \(chat) agp \(agp)")
                }
            }
        }
    }

    // MARK: score

    func testScoreJSONShapeAndConsistency() throws {
        let text = "The capital of France is"
        let tok = try CLI.jsonObject(try CLI.run(["tokenize", "--model", "smollm2-135m", "--text", text, "--json"]))
        let ids = try XCTUnwrap(ints(tok["ids"]))
        let n = ids.count

        let r = try CLI.run(["score", "--model", "smollm2-135m", "--text", text, "--top-k", "5", "--last", "3", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdoutLines.count, 1)
        XCTAssertTrue(r.stdout.hasPrefix("{\"ids\":["), r.stdout)
        let object = try CLI.jsonObject(r)
        XCTAssertEqual(Set(object.keys), ["ids", "positions"])
        XCTAssertEqual(ints(object["ids"]), ids)
        let positions = try XCTUnwrap(object["positions"] as? [[String: Any]])
        XCTAssertEqual(positions.count, 3)
        for (k, p) in positions.enumerated() {
            XCTAssertEqual(Set(p.keys), ["index", "top", "logsumexp"])
            XCTAssertEqual((p["index"] as? NSNumber)?.intValue, n - 3 + k)
            let top = try XCTUnwrap(p["top"] as? [[NSNumber]])
            XCTAssertEqual(top.count, 5)
            XCTAssertTrue(top.allSatisfy { $0.count == 2 && $0[0].intValue >= 0 && $0[0].intValue < 49152 })
            let logits = top.map { $0[1].doubleValue }
            XCTAssertEqual(logits, logits.sorted(by: >), "top logits must be in decreasing order")
            let lse = try XCTUnwrap((p["logsumexp"] as? NSNumber)?.doubleValue)
            XCTAssertGreaterThanOrEqual(lse, logits[0])
            XCTAssertLessThanOrEqual(lse, logits[0] + log(49152.0))
        }

        // The same positions scored from --ids, with a shorter prefix, agree (the prefix is prefilled separately).
        let r2 = try CLI.run(["score", "--model", "smollm2-135m", "--ids", ids.dropLast().map(String.init).joined(separator: ","),
                              "--top-k", "5", "--last", "0", "--json"])
        XCTAssertEqual(r2.status, 0, r2.stderr)
        let positions2 = try XCTUnwrap(try CLI.jsonObject(r2)["positions"] as? [[String: Any]])
        XCTAssertEqual(positions2.count, n - 1, "--last 0 scores every position")
        for k in 0 ..< 2 {
            let a = try XCTUnwrap(positions[k]["top"] as? [[NSNumber]])
            let b = try XCTUnwrap(positions2[n - 3 + k]["top"] as? [[NSNumber]])
            XCTAssertEqual(a.map { $0[0].intValue }, b.map { $0[0].intValue })
            for (x, y) in zip(a, b) { XCTAssertEqual(x[1].doubleValue, y[1].doubleValue, accuracy: 1e-3) }
        }
    }

    func testScoreMessagesUsesTheChatTokens() throws {
        let file = try writeMessages([["role": "user", "content": "Hi"]])
        let tok = try CLI.jsonObject(try CLI.run(["tokenize", "--model", "qwen2.5-coder-0.5b", "--messages", file,
                                                  "--add-generation-prompt", "--json"]))
        let r = try CLI.run(["score", "--model", "qwen2.5-coder-0.5b", "--messages", file, "--add-generation-prompt",
                             "--top-k", "3", "--last", "1", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let object = try CLI.jsonObject(r)
        XCTAssertEqual(ints(object["ids"]), ints(tok["ids"]))
        let positions = try XCTUnwrap(object["positions"] as? [[String: Any]])
        XCTAssertEqual(positions.count, 1)
        XCTAssertEqual((positions[0]["top"] as? [Any])?.count, 3)
    }

    // MARK: generate

    func testGenerateJSONShapeGreedyAndStreaming() throws {
        let text = "The capital of France is"
        let args = ["generate", "--model", "smollm2-135m", "--text", text, "--max-tokens", "12", "--temperature", "0"]
        let r = try CLI.run(args + ["--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdoutLines.count, 1)
        XCTAssertTrue(r.stdout.hasPrefix("{\"ids\":["), r.stdout)
        let object = try CLI.jsonObject(r)
        XCTAssertEqual(Set(object.keys), ["ids", "text"])
        let ids = try XCTUnwrap(ints(object["ids"]))
        XCTAssertFalse(ids.isEmpty)
        XCTAssertLessThanOrEqual(ids.count, 12)
        let completion = try XCTUnwrap(object["text"] as? String)

        // Greedy: the first token is the argmax of the prompt's last logits.
        let score = try CLI.jsonObject(try CLI.run(["score", "--model", "smollm2-135m", "--text", text, "--top-k", "1", "--json"]))
        let top = try XCTUnwrap(((score["positions"] as? [[String: Any]])?.first?["top"] as? [[NSNumber]])?.first)
        XCTAssertEqual(ids[0], top[0].intValue)

        // Deterministic, and the streamed text is the JSON text.
        XCTAssertEqual(try CLI.run(args + ["--json"]).stdout, r.stdout)
        let streamed = try CLI.run(args)
        XCTAssertEqual(streamed.status, 0, streamed.stderr)
        XCTAssertEqual(streamed.stdout, completion + "\n")
    }

    func testGenerateChatStopsAtEndOfTurn() throws {
        let file = try writeMessages([["role": "user", "content": "Hi"]])
        let r = try CLI.run(["generate", "--model", "smollm2-135m", "--messages", file, "--max-tokens", "64", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let object = try CLI.jsonObject(r)
        let ids = try XCTUnwrap(ints(object["ids"]))
        let text = try XCTUnwrap(object["text"] as? String)
        XCTAssertLessThan(ids.count, 64, "a short greeting should end with an end-of-turn token")
        XCTAssertEqual(ids.last, 2, "SmolLM2's <|im_end|> (id 2) ends the turn")
        XCTAssertFalse(text.contains("<|im_end|>"))
        XCTAssertFalse(text.isEmpty)
    }

    func testGenerateStopStringCutsTheText() throws {
        let args = ["generate", "--model", "smollm2-135m", "--text", "1, 2, 3, 4,", "--max-tokens", "24"]
        let free = try CLI.jsonObject(try CLI.run(args + ["--json"]))
        let freeText = try XCTUnwrap(free["text"] as? String)
        XCTAssertTrue(freeText.contains("7"), "expected the count to go on: \(freeText)")
        let r = try CLI.run(args + ["--stop", "7", "--json"])
        let object = try CLI.jsonObject(r)
        let text = try XCTUnwrap(object["text"] as? String)
        XCTAssertEqual(text, String(freeText[..<freeText.range(of: "7")!.lowerBound]))
        let streamed = try CLI.run(args + ["--stop", "7"])
        XCTAssertEqual(streamed.stdout, text + "\n", "streaming must not show any part of the stop string")
    }

    func testGenerateSamplesAreSeeded() throws {
        let args = ["generate", "--model", "smollm2-135m", "--text", "Once upon a time", "--max-tokens", "8",
                    "--temperature", "1", "--top-k", "50", "--samples", "3", "--json"]
        let a = try CLI.run(args + ["--seed", "7"])
        XCTAssertEqual(a.status, 0, a.stderr)
        XCTAssertEqual(a.stdoutLines.count, 3)
        for line in a.stdoutLines {
            let o = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            XCTAssertEqual(Set(o.keys), ["ids", "text"])
        }
        XCTAssertEqual(try CLI.run(args + ["--seed", "7"]).stdout, a.stdout, "same seed, same samples")
        XCTAssertGreaterThan(Set(a.stdoutLines).count, 1, "three samples at temperature 1 should not all be equal")
    }

    /// The default chat model answers a simple question sensibly.
    func testQwenChatAnswer() throws {
        let r = try CLI.run(["generate", "--model", "qwen2.5-coder-0.5b", "--chat", "--text",
                             "What is the capital of France? Answer in one short sentence.", "--max-tokens", "24", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let text = try XCTUnwrap(try CLI.jsonObject(r)["text"] as? String)
        XCTAssertTrue(text.contains("Paris"), text)
    }

    // MARK: bench

    func testBenchJSONShape() throws {
        let r = try CLI.run(["bench", "--model", "smollm2-135m", "--batch", "2", "--prompt-tokens", "8", "--new-tokens", "4",
                             "--threads", "1", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdoutLines.count, 1)
        let o = try CLI.jsonObject(r)
        for key in ["prefill_tokens_per_s", "decode_tokens_per_s", "peak_rss_mb", "load_seconds", "prefill_seconds", "decode_seconds"] {
            let v = try XCTUnwrap((o[key] as? NSNumber)?.doubleValue, key)
            XCTAssertGreaterThan(v, 0, key)
        }
        XCTAssertEqual((o["batch"] as? NSNumber)?.intValue, 2)
        XCTAssertEqual((o["prompt_tokens"] as? NSNumber)?.intValue, 8)
        XCTAssertEqual((o["new_tokens"] as? NSNumber)?.intValue, 4)
        XCTAssertEqual((o["threads"] as? NSNumber)?.intValue, 1)
        XCTAssertEqual(o["weights"] as? String, "fp32")
        // The fp32 SmolLM2 weights alone are ~540 MB.
        XCTAssertGreaterThan((o["peak_rss_mb"] as? NSNumber)?.doubleValue ?? 0, 500)
        assertCleanError(try CLI.run(["bench", "--model", "smollm2-135m", "--prompt-tokens", "9000", "--new-tokens", "2"]),
                         contains: "exceeds the model's context of 8192")
    }
}
