import Tasks
import XCTest

final class RewardTests: XCTestCase {
    let example = Example(id: "e", messages: [ChatTurn(role: "user", content: "2+2?")], completion: nil, goldAnswer: "4")

    func testFormatReward() {
        let format = FormatReward()
        XCTAssertEqual(format.reward(completion: "2 + 2 = 4\n#### 4", example: example), 1)
        XCTAssertEqual(format.reward(completion: "#### 5", example: example), 1, "format does not look at correctness")
        XCTAssertEqual(format.reward(completion: "The answer is 4", example: example), 0)
        XCTAssertEqual(format.reward(completion: "#### four", example: example), 0)
        XCTAssertEqual(format.reward(completion: "#### Step 1\n2 + 2 = 4", example: example), 0, "a heading is not an answer")
        XCTAssertEqual(format.reward(completion: "#### 4\n#### Done", example: example), 1)
    }

    func testExactMatchWithoutGoldIsZero() {
        let noGold = Example(id: "n", messages: example.messages)
        XCTAssertEqual(ExactMatchReward().reward(completion: "#### 4", example: noGold), 0)
    }

    func testWeightedSum() throws {
        let reward = try WeightedReward.parse("correct,format=0.25")
        XCTAssertEqual(reward.terms.map(\.function.name), ["correct", "format"])
        // correct and formatted: 1·1 + 0.25·1
        let both = reward.evaluate(completion: "#### 4", example: example)
        XCTAssertEqual(both.total, 1.25)
        XCTAssertEqual(both.values, [RewardValue(name: "correct", value: 1), RewardValue(name: "format", value: 1)])
        // correct, unformatted: 1·1 + 0.25·0
        XCTAssertEqual(reward.reward(completion: "The answer is 4.", example: example), 1)
        // formatted, wrong: 1·0 + 0.25·1
        XCTAssertEqual(reward.reward(completion: "#### 5", example: example), 0.25)
        XCTAssertEqual(try WeightedReward.parse("format=-1").reward(completion: "#### 5", example: example), -1)
        XCTAssertEqual(WeightedReward.standard.spec, "correct=1.0")
    }

    func testBadRewardSpecs() {
        for (spec, fragment) in [("correctness", "unknown reward function \"correctness\""), ("correct=x", "finite number"),
                                 ("correct,correct", "given twice"), ("", "unknown reward function \"\""),
                                 ("correct=inf", "finite number")] {
            XCTAssertThrowsError(try WeightedReward.parse(spec), spec) { error in
                XCTAssertTrue("\(error)".contains(fragment), "\(spec): \(error)")
            }
        }
    }

    /// Wilson 95% intervals, checked against the formula written out by hand:
    /// n = 10, 3 correct: p = 0.3, z² = 3.841459, z²/n = 0.3841459,
    /// center = (0.3 + 0.19207295) / 1.3841459 = 0.3555066,
    /// half = 1.959964·√(0.021 + 0.009603647) / 1.3841459 = 1.959964·0.1749390 / 1.3841459 = 0.2477154,
    /// → [0.107791, 0.603222].
    func testWilsonInterval() {
        let (lo, hi) = AccuracySummary.wilson(successes: 3, n: 10)
        XCTAssertEqual(lo, 0.107791, accuracy: 2e-6)
        XCTAssertEqual(hi, 0.603222, accuracy: 2e-6)
        // 0 of 20: center = half = (z²/2n)/(1+z²/n) = 0.0960365/1.19207 = 0.0805625 → [0, 0.161125]
        let zero = AccuracySummary(correct: 0, n: 20).ci95
        XCTAssertEqual(zero.lower, 0)
        XCTAssertEqual(zero.upper, 0.161125, accuracy: 2e-6)
        let all = AccuracySummary(correct: 20, n: 20).ci95
        XCTAssertEqual(all.upper, 1)
        XCTAssertEqual(all.lower, 1 - 0.161125, accuracy: 2e-6)
        // Exactly 0 and 1 at the ends for every n (rounding once left 5.6e-17 for 0 of 3).
        for n in 1 ... 60 {
            XCTAssertEqual(AccuracySummary(correct: 0, n: n).ci95.lower, 0, "0 of \(n)")
            XCTAssertEqual(AccuracySummary(correct: n, n: n).ci95.upper, 1, "\(n) of \(n)")
        }
        XCTAssertEqual(AccuracySummary(correct: 0, n: 0).ci95.upper, 1)
        XCTAssertEqual(AccuracySummary(correct: 7, n: 8).accuracy, 0.875)
    }

    /// Exact McNemar p-values written out: 12 gained, 6 lost → n = 18, 2·Σ_{i≤6} C(18,i)/2¹⁸ = 2·31180/262144
    /// = 0.237884521484375; 5 vs 0 → 2/32 = 0.0625; 3 vs 3 → 1 (capped); nothing changed → 1.
    func testMcNemarExactP() {
        XCTAssertEqual(AccuracySummary.mcNemarExactP(gained: 12, lost: 6), 0.237884521484375, accuracy: 1e-12)
        XCTAssertEqual(AccuracySummary.mcNemarExactP(gained: 6, lost: 12), 0.237884521484375, accuracy: 1e-12)
        XCTAssertEqual(AccuracySummary.mcNemarExactP(gained: 5, lost: 0), 0.0625, accuracy: 1e-12)
        XCTAssertEqual(AccuracySummary.mcNemarExactP(gained: 3, lost: 3), 1)
        XCTAssertEqual(AccuracySummary.mcNemarExactP(gained: 0, lost: 0), 1)
        XCTAssertLessThan(AccuracySummary.mcNemarExactP(gained: 900, lost: 100), 1e-100)
    }
}
