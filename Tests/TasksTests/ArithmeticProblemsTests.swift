import Foundation
import Tasks
import XCTest

final class ArithmeticProblemsTests: XCTestCase {
    /// Every line "... a op b = c ..." of a worked solution, checked with integer arithmetic; returns the number
    /// of such calculations.
    func checkCalculations(_ solution: String, file: StaticString = #filePath, line: UInt = #line) -> Int {
        var count = 0
        for text in solution.split(separator: "\n") where text.contains(" = ") {
            let words = text.split(separator: " ").map(String.init)
            guard let eq = words.firstIndex(of: "="), eq >= 3 else {
                XCTFail("cannot read \(text)", file: file, line: line)
                continue
            }
            let a = Int(words[eq - 3]), op = words[eq - 2], b = Int(words[eq - 1])
            let c = Int(words[eq + 1].trimmingCharacters(in: CharacterSet(charactersIn: ".")))
            guard let a, let b, let c else {
                XCTFail("cannot read numbers in \(text)", file: file, line: line)
                continue
            }
            let expected: Int
            switch op {
            case "+": expected = a + b
            case "-": expected = a - b
            case "*": expected = a * b
            case "/":
                XCTAssertEqual(a % b, 0, "inexact division in \(text)", file: file, line: line)
                expected = a / b
            default:
                XCTFail("unknown operator in \(text)", file: file, line: line)
                continue
            }
            XCTAssertEqual(c, expected, String(text), file: file, line: line)
            XCTAssertGreaterThan(c, 0, "intermediate results stay positive: \(text)", file: file, line: line)
            count += 1
        }
        return count
    }

    func testSolutionsAreCorrectAndStepCountsHold() throws {
        for steps in 1 ... ArithmeticProblems.maxSteps {
            let data = try Dataset.load("arith:n=150,seed=3,steps=\(steps),max=30")
            XCTAssertEqual(data.count, 150)
            for example in data.examples {
                let solution = try XCTUnwrap(example.completion)
                XCTAssertEqual(checkCalculations(solution), steps, solution)
                // The gold answer is the solution's #### answer and the last calculation's result.
                XCTAssertEqual(extractAnswer(solution)?.rule, .hashes)
                XCTAssertTrue(answerMatches(extractAnswer(solution), gold: try XCTUnwrap(example.goldAnswer)))
                let gold = try XCTUnwrap(Int(example.goldAnswer!))
                XCTAssertGreaterThan(gold, 0)
                XCTAssertEqual(example.messages.count, 1)
                XCTAssertTrue(example.messages[0].content.hasSuffix(PromptFormat.paperSuffix))
            }
        }
    }

    func testDeterministicAndSeedsDiffer() throws {
        let a = try Dataset.load("arith:n=50,seed=7")
        let b = try Dataset.load("arith:n=50,seed=7")
        let c = try Dataset.load("arith:n=50,seed=8")
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a.examples.map(\.messages), c.examples.map(\.messages))
        XCTAssertEqual(a.name, "arith:n=50,seed=7,split=train,steps=1-3,max=20")
        XCTAssertEqual(a.examples[0].id, "arith-train-7-0")
        // A longer dataset with the same settings starts with the shorter one.
        let longer = try Dataset.load("arith:n=80,seed=7")
        XCTAssertEqual(Array(longer.examples.prefix(50)), a.examples)
    }

    func testSplitsAreDisjointAndDistinct() throws {
        let train = try Dataset.load("arith:n=2000,split=train,steps=1,max=12")
        let test = try Dataset.load("arith:n=300,split=test,steps=1,max=12")
        let trainQuestions = Set(train.examples.map(\.promptText))
        let testQuestions = Set(test.examples.map(\.promptText))
        XCTAssertEqual(trainQuestions.count, 2000, "no duplicates within a split")
        XCTAssertEqual(testQuestions.count, 300)
        XCTAssertTrue(trainQuestions.isDisjoint(with: testQuestions))
        for q in test.examples.map({ $0.promptText }) {
            XCTAssertTrue(ArithmeticProblems.isTestQuestion(String(q.dropLast(PromptFormat.paperSuffix.count))))
        }
    }

    func testVariety() throws {
        let data = try Dataset.load("arith:n=300,seed=1,steps=1-3")
        // At least the fixed shapes' distinct opening words and the chain template appear.
        let questions = data.examples.map(\.promptText)
        for phrase in ["costs $", "shares them equally", "miles", "years old", "How many"] {
            XCTAssertTrue(questions.contains { $0.contains(phrase) }, phrase)
        }
        let answers = Set(data.examples.compactMap(\.goldAnswer))
        XCTAssertGreaterThan(answers.count, 50)
    }

    func testSmallSpaceIsReported() {
        // steps=1 with max=2 has few distinct problems.
        XCTAssertThrowsError(try Dataset.load("arith:n=100000,steps=1,max=2")) { error in
            XCTAssertTrue("\(error)".contains("distinct problems"), "\(error)")
        }
    }

    func testBadSpecs() {
        for (spec, fragment) in [("arith:n=0", "n must be"), ("arith:steps=0", "steps must be"), ("arith:steps=3-1", "steps must be"),
                                 ("arith:steps=9", "steps must be"), ("arith:max=1", "max must be"), ("arith:split=dev", "split must be"),
                                 ("arith:foo=1", "unknown key \"foo\""), ("arith:n", "not key=value"), ("arith:", "nothing after"),
                                 ("arith:seed=-1", "seed must be")] {
            XCTAssertThrowsError(try Dataset.load(spec), spec) { error in
                XCTAssertTrue("\(error)".contains(fragment), "\(spec): \(error)")
            }
        }
    }

    func testPromptFormat() throws {
        let format = PromptFormat(systemMessage: "Be brief.", instructionSuffix: " Answer:")
        let data = try Dataset.load("arith:n=3", prompt: format)
        XCTAssertEqual(data.examples[0].messages.map(\.role), ["system", "user"])
        XCTAssertEqual(data.examples[0].messages[0].content, "Be brief.")
        XCTAssertTrue(data.examples[0].messages[1].content.hasSuffix("? Answer:"))
        let plain = try Dataset.load("arith:n=3", prompt: .plain)
        XCTAssertTrue(plain.examples[0].promptText.hasSuffix("?"))
    }
}
