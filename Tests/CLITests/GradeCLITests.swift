import Foundation
import XCTest

/// `tinylora grade`: completions from elsewhere scored as `eval` scores its own, and its errors on bad files.
final class GradeCLITests: TemporaryDirectoryTestCase {
    let tinyData = """
    {"question": "Tom has 3 apples and buys 2 more. How many apples does he have?", "answer": "3 + 2 = 5\\n#### 5"}
    {"question": "A pen costs $4. How much do 3 pens cost?", "answer": "#### 12", "id": "pens"}
    {"prompt": "What is 10 minus 7?", "answer": 3}
    """

    func rows(_ path: String) throws -> [[String: Any]] {
        try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    /// eval's own results.jsonl graded again gives the same extracted answers, verdicts and summary.
    func testGradingEvalResultsReproducesEval() throws {
        let model = try CLI.modelPath("smollm2-135m")
        let data = try write("tiny.jsonl", tinyData)
        let r = try CLI.run(["eval", "--model", model, "--data", data, "--max-tokens", "40", "--out", dir + "/eval", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let g = try CLI.run(["grade", "--data", data, "--completions", dir + "/eval/results.jsonl", "--out", dir + "/grade",
                             "--json"])
        XCTAssertEqual(g.status, 0, g.stderr)
        XCTAssertEqual(g.stdout, r.stdout)
        let evalRows = try rows(dir + "/eval/results.jsonl"), gradeRows = try rows(dir + "/grade/results.jsonl")
        for key in ["id", "sample", "prompt", "completion", "extracted", "extraction_rule", "gold", "correct",
                    "finish_reason", "tokens"] {
            XCTAssertEqual(evalRows.map { "\($0[key] ?? "nil")" }, gradeRows.map { "\($0[key] ?? "nil")" }, key)
        }
    }

    /// Hand-written completions in any order, two samples each: each rule of the extraction, and the count.
    func testGradesHandWrittenCompletions() throws {
        let data = try write("tiny.jsonl", tinyData)
        let completions = try write("c.jsonl", """
        {"id": "pens", "sample": 1, "completion": "3 pens cost $12.\\n#### 12", "finish_reason": "stop", "tokens": 9}
        {"id": "tiny-0", "completion": "So he has \\\\boxed{5} apples."}
        {"id": "tiny-0", "sample": 1, "completion": "The answer is 6.", "finish_reason": "length", "tokens": 7}

        {"id": "pens", "completion": "They cost 4 dollars each, 12 in all... no, 13."}
        {"id": "tiny-2", "completion": "10 - 7 = 3"}
        {"id": "tiny-2", "sample": 1, "completion": "I do not know."}
        """)
        let g = try CLI.run(["grade", "--data", data, "--completions", completions, "--out", dir + "/g", "--json"])
        XCTAssertEqual(g.status, 0, g.stderr)
        let json = try CLI.jsonObject(g)
        XCTAssertEqual(json["n"] as? Int, 6)
        XCTAssertEqual(json["accuracy"] as? Double ?? 0, 3.0 / 6.0, accuracy: 1e-12)
        let out = try rows(dir + "/g/results.jsonl")
        XCTAssertEqual(out.map { $0["id"] as? String }, ["tiny-0", "tiny-0", "pens", "pens", "tiny-2", "tiny-2"])
        XCTAssertEqual(out.map { $0["sample"] as? Int }, [0, 1, 0, 1, 0, 1])
        XCTAssertEqual(out.map { $0["correct"] as? Bool }, [true, false, false, true, true, false])
        XCTAssertEqual(out.map { $0["extraction_rule"] as? String }, ["boxed", "answer_phrase", "last_number", "hashes",
                                                                      "last_number", nil])
        XCTAssertEqual(out.map { $0["finish_reason"] as? String }, ["stop", "length", "stop", "stop", "stop", "stop"])
        let summary = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/g/summary.json")))
            as? [String: Any])
        XCTAssertEqual(summary["samples_per_item"] as? Int, 2)
        XCTAssertEqual(summary["truncated"] as? Int, 1)
        XCTAssertEqual(summary["generated_tokens"] as? Int, 16)
    }

    /// Each bad file fails with one line naming the problem, and writes nothing.
    func testBadCompletionFilesAreRefusedWithTheirLine() throws {
        let data = try write("tiny.jsonl", tinyData)
        let cases: [(String, String)] = [
            ("{\"id\": \"tiny-0\", \"completion\": \"5\"}\n{\"id\": \"nope\", \"completion\": \"5\"}",
             "line 2: id \"nope\" is not an item"),
            ("{\"id\": \"tiny-0\", \"completion\": \"5\"}\n{\"id\": \"tiny-0\", \"completion\": \"6\"}",
             "line 2: id \"tiny-0\" sample 0 is already given on line 1"),
            ("{\"id\": \"tiny-0\", \"completion\": \"5\"}\n{\"id\": \"pens\", \"completion\": \"5\"}",
             "item \"tiny-2\" has completions for samples [] where samples 0 ..< 1 are expected"),
            ("{\"id\": \"tiny-0\", \"completion\": 5}", "line 1: \"completion\" must be a string"),
            ("{\"id\": \"tiny-0\", \"completion\": \"5\", \"finish_reason\": \"eos\"}",
             "line 1: \"finish_reason\" \"eos\" is not one of"),
            ("{\"id\": \"tiny-0\", \"completion\": \"5\", \"sample\": -1}", "line 1: \"sample\" must be a whole number"),
            ("{\"id\": \"tiny-0\", \"completion\": \"5\"", "line 1: not valid JSON"),
            ("{\"completion\": \"5\"}", "line 1: a completion needs an \"id\""),
            ("", "no completions for item \"tiny-0\""),
        ]
        for (i, (text, expected)) in cases.enumerated() {
            let file = try write("bad\(i).jsonl", text)
            let r = try CLI.run(["grade", "--data", data, "--completions", file, "--out", dir + "/bad\(i)"])
            XCTAssertEqual(r.status, 1, "case \(i)")
            XCTAssertTrue(r.stderr.contains(expected), "case \(i): \(r.stderr)")
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, "case \(i): \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/bad\(i)/results.jsonl"), "case \(i)")
        }
        let missing = try CLI.run(["grade", "--data", data, "--completions", dir + "/none.jsonl"])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("completions file \(dir)/none.jsonl not found"), missing.stderr)
    }
}
