import Tasks
import XCTest

/// A table of tricky completions: which rule finds the answer, what it reads, and whether it matches the gold.
final class AnswerExtractionTests: XCTestCase {
    struct Row {
        let completion: String
        let rule: ExtractionRule?
        let text: String?
        let gold: String
        let correct: Bool
        let line: UInt
        init(_ completion: String, _ rule: ExtractionRule?, _ text: String?, gold: String, _ correct: Bool, line: UInt = #line) {
            self.completion = completion
            self.rule = rule
            self.text = text
            self.gold = gold
            self.correct = correct
            self.line = line
        }
    }

    let rows: [Row] = [
        // #### wins over everything, the last one counts
        Row("She has 5 + 3 = 8 apples.\n#### 8", .hashes, "8", gold: "8", true),
        Row("#### 7\nOn second thought 5 + 3 = 8.\n#### 8", .hashes, "8", gold: "8", true),
        Row("#### 8\nThe answer is 9", .hashes, "8", gold: "8", true),
        Row("The answer is \\boxed{9}.\n#### 8", .hashes, "8", gold: "8", true),
        Row("#### $1,234", .hashes, "$1,234", gold: "1234", true),
        Row("#### 1,234,567 dollars", .hashes, "1,234,567", gold: "1234567", true),
        Row("#### 18.", .hashes, "18", gold: "18", true),
        Row("#### 18.0", .hashes, "18.0", gold: "18", true),
        Row("#### 18.50", .hashes, "18.50", gold: "18.5", true),
        Row("#### 0.5", .hashes, "0.5", gold: "1/2", true),
        Row("#### 3/4 of a cup", .hashes, "3/4", gold: "0.75", true),
        Row("#### -5", .hashes, "-5", gold: "-5", true),
        Row("#### \u{2212}5", .hashes, "\u{2212}5", gold: "-5", true),
        Row("#### -5", .hashes, "-5", gold: "5", false),
        Row("#### 25%", .hashes, "25", gold: "25", true),
        Row("#### 42 apples", .hashes, "42", gold: "42", true),
        Row("####42", .hashes, "42", gold: "42", true),
        Row("#### **42**", .hashes, "42", gold: "42", true),
        Row("#### The total is 42", .hashes, "42", gold: "42", true),
        Row("#### 1,23", .hashes, "1", gold: "123", false),
        Row("#### 41", .hashes, "41", gold: "42", false),
        Row("#### \\$18", .hashes, "$18", gold: "18", true),
        Row("#### seven", .hashes, "seven", gold: "7", false),
        Row("#### Paris.", .hashes, "paris", gold: "paris", true),
        // an empty #### line falls through to the next rules
        Row("5 + 3 = 8\n####", .lastNumber, "8", gold: "8", true),
        // \boxed
        Row("So the result is \\boxed{42}.", .boxed, "42", gold: "42", true),
        Row("\\boxed{1} then \\boxed{2}", .boxed, "2", gold: "2", true),
        Row("$\\boxed{\\frac{3}{4}}$", .boxed, "3/4", gold: "0.75", true),
        Row("\\boxed{\\dfrac{10}{4}}", .boxed, "10/4", gold: "5/2", true),
        Row("\\boxed{12\\text{ apples}}", .boxed, "12", gold: "12", true),
        Row("\\boxed{1{,}000}", .boxed, "1,000", gold: "1000", true),
        Row("\\boxed{\\$5.00}", .boxed, "$5.00", gold: "5", true),
        Row("\\fbox{64}", .boxed, "64", gold: "64", true),
        Row("\\boxed{42", .lastNumber, "42", gold: "42", true),  // unclosed: not a box
        // answer phrases
        Row("3 * 4 = 12, so the answer is 12 cookies.", .answerPhrase, "12", gold: "12", true),
        Row("The Answer Is: $30", .answerPhrase, "$30", gold: "30", true),
        Row("Final answer: 17\nCheck: 10 + 7 = 17 and 2 + 2 = 4", .answerPhrase, "17", gold: "17", true),
        Row("The final answer is:\n\n**96**", .answerPhrase, "96", gold: "96", true),
        Row("The answer is 5. Wait, no: the answer is 6.", .answerPhrase, "6", gold: "6", true),
        Row("**Answer:** 2,500 meters", .answerPhrase, "2,500", gold: "2500", true),
        // last number fallback
        Row("5 + 3 = 8 apples in total", .lastNumber, "8", gold: "8", true),
        Row("16-3-4=9 eggs", .lastNumber, "9", gold: "9", true),
        Row("It costs $2.50 each, $7.50 total.", .lastNumber, "$7.50", gold: "7.5", true),
        Row("I think 3 - 5 gives -2", .lastNumber, "-2", gold: "-2", true),
        Row("There are 12.", .lastNumber, "12", gold: "12", true),
        Row("No numbers here at all.", nil, nil, gold: "3", false),
        Row("", nil, nil, gold: "3", false),
        // overflow is not a number; it is compared as text
        Row("#### 123456789012345678901234567890", .hashes, "123456789012345678901234567890", gold: "1", false),
    ]

    func testTable() {
        XCTAssertGreaterThanOrEqual(rows.count, 30)
        for row in rows {
            let found = extractAnswer(row.completion)
            XCTAssertEqual(found?.rule, row.rule, "rule for \(row.completion.debugDescription)", line: row.line)
            XCTAssertEqual(found?.text, row.text, "text for \(row.completion.debugDescription)", line: row.line)
            XCTAssertEqual(answerMatches(found, gold: row.gold), row.correct,
                           "match of \(row.completion.debugDescription) with gold \(row.gold)", line: row.line)
            let example = Example(id: "x", messages: [ChatTurn(role: "user", content: "q")], goldAnswer: row.gold)
            XCTAssertEqual(ExactMatchReward().reward(completion: row.completion, example: example), row.correct ? 1 : 0,
                           line: row.line)
        }
    }

    func testNumericValues() {
        XCTAssertEqual(NumericAnswer(parsing: "18.0"), NumericAnswer(numerator: 18, denominator: 1))
        XCTAssertEqual(NumericAnswer(parsing: "$1,234.5")?.description, "2469/2")
        XCTAssertEqual(NumericAnswer(parsing: "-6/4")?.description, "-3/2")
        XCTAssertNil(NumericAnswer(parsing: "1/0"))
        XCTAssertNil(NumericAnswer(parsing: "none"))
        XCTAssertEqual(NumberScanner.numbers(in: "3,4,5 and 1,000").map(\.text), ["3", "4", "5", "1,000"])
        XCTAssertEqual(NumberScanner.numbers(in: "1.2.3").map(\.text), ["1.2", "3"])
        XCTAssertEqual(NumberScanner.numbers(in: "$-5 and -$6").compactMap(\.value?.numerator), [-5, -6])
    }
}
