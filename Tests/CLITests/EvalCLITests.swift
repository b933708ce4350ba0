import Foundation
import XCTest

/// `tinylora eval` on SmolLM2 with tiny datasets, and its errors on bad data.
final class EvalCLITests: TemporaryDirectoryTestCase {
    func readRows(_ path: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return try text.split(separator: "\n").map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    let tinyData = """
    {"question": "Tom has 3 apples and buys 2 more. How many apples does he have?", "answer": "3 + 2 = 5\\n#### 5"}
    {"question": "A pen costs $4. How much do 3 pens cost?", "answer": "#### 12", "id": "pens"}
    {"prompt": "What is 10 minus 7?", "answer": 3}
    """

    /// Wilson 95% interval written out (z = 1.959964).
    func wilson(_ k: Int, _ n: Int) -> (Double, Double) {
        let z = 1.959963984540054, nn = Double(n), p = Double(k) / nn
        let d = 1 + z * z / nn, c = (p + z * z / (2 * nn)) / d
        let h = z * (p * (1 - p) / nn + z * z / (4 * nn * nn)).squareRoot() / d
        return (max(0, c - h), min(1, c + h))
    }

    func testEvalWritesRowsSummaryAndMatchesGenerate() throws {
        let model = try CLI.modelPath("smollm2-135m")
        let data = try write("tiny.jsonl", tinyData)
        let out = dir + "/out"
        let r = try CLI.run(["eval", "--model", model, "--data", data, "--max-tokens", "40", "--out", out, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try CLI.jsonObject(r)
        XCTAssertEqual(Set(json.keys), ["accuracy", "n", "ci95"])
        XCTAssertEqual(json["n"] as? Int, 3)
        let rows = try readRows(out + "/results.jsonl")
        XCTAssertEqual(rows.count, 3)
        XCTAssertEqual(rows.map { $0["id"] as? String }, ["tiny-0", "pens", "tiny-2"])
        XCTAssertEqual(rows.map { $0["gold"] as? String }, ["5", "12", "3"])
        XCTAssertEqual(rows[1]["prompt"] as? String,
                       "A pen costs $4. How much do 3 pens cost? Let's think step by step and output the final answer after \"####\".")
        let correct = rows.filter { $0["correct"] as? Bool == true }.count
        XCTAssertEqual(json["accuracy"] as? Double, Double(correct) / 3)
        let ci = try XCTUnwrap(json["ci95"] as? [Double])
        let (lo, hi) = wilson(correct, 3)
        XCTAssertEqual(ci[0], lo, accuracy: 1e-12)
        XCTAssertEqual(ci[1], hi, accuracy: 1e-12)
        for row in rows {
            // An integer answer is correct exactly when the extracted text reads as the gold number.
            let extracted = (row["extracted"] as? String)?.replacingOccurrences(of: ",", with: "").replacingOccurrences(of: "$", with: "")
            let expected = extracted.flatMap { Double($0) } == Double(row["gold"] as! String)
            XCTAssertEqual(row["correct"] as? Bool, expected, "\(row)")
            XCTAssertNotNil(row["finish_reason"] as? String)
            XCTAssertGreaterThan(row["tokens"] as? Int ?? 0, 0)
        }
        let summary = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/summary.json"))) as? [String: Any])
        XCTAssertEqual(summary["n"] as? Int, 3)
        XCTAssertEqual(summary["correct"] as? Int, correct)
        XCTAssertEqual(summary["interval"] as? String, "wilson")
        XCTAssertEqual(summary["model"] as? String, model)

        // Batched greedy evaluation gives what `generate` gives for the same question alone.
        let question = try XCTUnwrap(rows[1]["prompt"] as? String)
        let g = try CLI.run(["generate", "--model", model, "--chat", "--text", question, "--max-tokens", "40", "--json"])
        XCTAssertEqual(g.status, 0, g.stderr)
        XCTAssertEqual(try CLI.jsonObject(g)["text"] as? String, rows[1]["completion"] as? String)

        // Scoring end to end: make the model's own extracted answer the gold of that item; it is then correct.
        let extracted = try XCTUnwrap(rows[1]["extracted"] as? String, "SmolLM2 wrote no number: \(rows[1])")
        let regold = try write("regold.jsonl", """
        {"question": "A pen costs $4. How much do 3 pens cost?", "answer": \(JSONText(extracted))}
        """)
        let r2 = try CLI.run(["eval", "--model", model, "--data", regold, "--max-tokens", "40", "--json"])
        XCTAssertEqual(r2.status, 0, r2.stderr)
        XCTAssertEqual(try CLI.jsonObject(r2)["accuracy"] as? Double, 1)
    }

    func JSONText(_ s: String) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: [s]), as: UTF8.self).dropFirst().dropLast().description
    }

    func testLimitSamplesAndReadableSummary() throws {
        let model = try CLI.modelPath("smollm2-135m")
        let out = dir + "/sampled"
        let r = try CLI.run(["eval", "--model", model, "--data", "arith:n=5,split=test", "--limit", "2", "--samples", "2",
                             "--temperature", "0.8", "--max-tokens", "24", "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("accuracy"), r.stdout)
        XCTAssertTrue(r.stdout.contains("(Wilson)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("items      2 x 2 samples"), r.stdout)
        let rows = try readRows(out + "/results.jsonl")
        XCTAssertEqual(rows.map { $0["id"] as? String }, ["arith-test-0-0", "arith-test-0-0", "arith-test-0-1", "arith-test-0-1"])
        XCTAssertEqual(rows.map { $0["sample"] as? Int }, [0, 1, 0, 1])
        // Every completion is cut at 24 tokens or ends with the end-of-turn token.
        for row in rows {
            let reason = row["finish_reason"] as? String
            XCTAssertTrue(reason == "length" ? row["tokens"] as? Int == 24 : reason == "stop", "\(row)")
        }
    }

    /// A fresh adapter (v = 0) leaves every completion as the base model's; a random one changes them.
    func testAdapter() throws {
        let model = try CLI.modelPath("smollm2-135m")
        let zero = dir + "/zero.tla", random = dir + "/random.tla"
        for (path, extra) in [(zero, [String]()), (random, ["--random-std", "0.5"])] {
            let r = try CLI.run(["adapter", "init", "--model", model, "--u", "4", "--tie", "all", "--layers", "0-3", "--seed", "3", "--out", path] + extra)
            XCTAssertEqual(r.status, 0, r.stderr)
        }
        var completions: [String: [String]] = [:]
        for (name, adapter) in [("base", nil), ("zero", zero), ("random", random)] as [(String, String?)] {
            let out = dir + "/eval-" + name
            let r = try CLI.run(["eval", "--model", model, "--data", "arith:n=2,split=test", "--max-tokens", "16", "--out", out, "--json"]
                + (adapter.map { ["--adapter", $0] } ?? []))
            XCTAssertEqual(r.status, 0, r.stderr)
            completions[name] = try readRows(out + "/results.jsonl").map { $0["completion"] as? String ?? "" }
            let summary = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/summary.json"))) as? [String: Any])
            XCTAssertEqual(summary["adapter"] as? String, adapter)
        }
        XCTAssertEqual(completions["zero"], completions["base"])
        XCTAssertNotEqual(completions["random"], completions["base"])
    }

    func testBadDataFailsCleanlyBeforeLoadingTheModel() throws {
        let model = try CLI.modelPath("smollm2-135m")
        let cases: [(String, String)] = [
            (try write("badjson.jsonl", "{\"question\": \"q\", \"answer\": \"#### 1\"}\n{\"question\": \n"), "badjson.jsonl line 2: not valid JSON"),
            (try write("empty.jsonl", ""), "holds no records"),
            (try write("nokeys.jsonl", "{\"text\": \"x\"}\n"), "line 1: the record has none of"),
            (try write("noanswer.jsonl", "{\"question\": \"q\"}\n"), "line 1: a \"question\" record needs an \"answer\""),
            (dir + "/missing.jsonl", "not found"),
            ("gsm8k-train", "not a built-in name"),
            ("arith:steps=12", "steps must be"),
            (try write("nogold.jsonl", "{\"prompt\": \"a\", \"answer\": 1}\n{\"prompt\": \"b\", \"completion\": \"no hashes\"}\n"),
             "1 item(s) have no gold answer to score against, first nogold-1"),
        ]
        for (data, fragment) in cases {
            let r = try CLI.run(["eval", "--model", model, "--data", data, "--json"])
            assertCleanError(r, contains: fragment)
            XCTAssertLessThan(r.seconds, 20, "errors come before the model is loaded")
        }
        let file = try write("a-file", "x")
        assertCleanError(try CLI.run(["eval", "--model", model, "--data", "arith:n=2", "--out", file]), contains: "is not a directory")
        // A prompt longer than the model's context is refused, naming the item (after the model is loaded).
        let long = try write("long.jsonl", "{\"question\": \"" + String(repeating: "apple ", count: 9000) + "\", \"answer\": \"1\", \"id\": \"huge\"}\n")
        assertCleanError(try CLI.run(["eval", "--model", model, "--data", long]), contains: "example huge: its prompt has")
        let usage = try CLI.run(["eval", "--model", model, "--data", "arith", "--limit", "0"])
        XCTAssertNotEqual(usage.status, 0)
        XCTAssertTrue(usage.stderr.contains("--limit must be >= 1"), usage.stderr)
    }
}
