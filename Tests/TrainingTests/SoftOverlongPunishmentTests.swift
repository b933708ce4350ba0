import Training
import XCTest

final class SoftOverlongPunishmentTests: XCTestCase {
    /// DAPO Eq. 13 with L_max = 160, L_cache = 40: free up to 120 tokens, then (120 − |y|)/40 down to −1 at 160.
    func testPenaltyTable() throws {
        let p = try SoftOverlongPunishment(maxLength: 160, buffer: 40)
        let table: [(Int, Double)] = [(0, 0), (1, 0), (120, 0), (121, -1.0 / 40), (130, -0.25), (140, -0.5),
                                      (159, -39.0 / 40), (160, -1), (161, -1), (1000, -1)]
        for (length, expected) in table {
            XCTAssertEqual(p.penalty(length: length), expected, accuracy: 1e-12, "length \(length)")
        }
        // The whole limit as buffer: the penalty is linear from the first token.
        let whole = try SoftOverlongPunishment(maxLength: 4, buffer: 4)
        XCTAssertEqual((0 ... 5).map { whole.penalty(length: $0) }, [0, -0.25, -0.5, -0.75, -1, -1])
    }

    func testBadSettingsAreNamed() {
        XCTAssertThrowsError(try SoftOverlongPunishment(maxLength: 10, buffer: 0)) {
            XCTAssertTrue("\($0)".contains("buffer"), "\($0)")
        }
        XCTAssertThrowsError(try SoftOverlongPunishment(maxLength: 10, buffer: 11)) {
            XCTAssertTrue("\($0)".contains("1 ... 10"), "\($0)")
        }
        var s = TrainingSettings()
        s.maxNewTokens = 64
        s.overlongBuffer = 65
        XCTAssertThrowsError(try s.validate()) { XCTAssertTrue("\($0)".contains("overlong buffer"), "\($0)") }
        s.overlongBuffer = 16
        s.overlongWeight = -1
        XCTAssertThrowsError(try s.validate()) { XCTAssertTrue("\($0)".contains("overlong weight"), "\($0)") }
        s.overlongWeight = 0.5
        XCTAssertNoThrow(try s.validate())
        XCTAssertEqual(s.overlongPunishment, try SoftOverlongPunishment(maxLength: 64, buffer: 16))
        s.overlongBuffer = 0
        XCTAssertNil(s.overlongPunishment)
    }
}

final class StepRewardsTests: XCTestCase {
    /// Four completions of a 10-token limit: finished right (1), cut but right by the last-number fallback (1),
    /// finished wrong (0), cut and wrong (0); lengths 4, 10, 9, 10.
    let task: [Double] = [1, 1, 0, 0]
    let lengths = [4, 10, 9, 10]
    let cut = [false, true, false, true]

    func settings(truncatedReward: Double? = nil, buffer: Int = 0, weight: Double = 1) -> TrainingSettings {
        var s = TrainingSettings()
        s.maxNewTokens = 10
        s.truncatedReward = truncatedReward
        s.overlongBuffer = buffer
        s.overlongWeight = weight
        return s
    }

    func testDefaultIsTheTaskReward() {
        let (r, overlong) = StepRewards.combine(taskRewards: task, tokenCounts: lengths, truncated: cut, settings: settings())
        XCTAssertEqual(r, [1, 1, 0, 0])
        XCTAssertNil(overlong)
    }

    func testTruncatedCompletionsGetTheirOwnReward() {
        let (r, _) = StepRewards.combine(taskRewards: task, tokenCounts: lengths, truncated: cut,
                                         settings: settings(truncatedReward: 0))
        XCTAssertEqual(r, [1, 0, 0, 0])
        let (r2, _) = StepRewards.combine(taskRewards: task, tokenCounts: lengths, truncated: cut,
                                          settings: settings(truncatedReward: -0.5))
        XCTAssertEqual(r2, [1, -0.5, 0, -0.5])
    }

    /// Buffer 4: free up to 6 tokens; 9 tokens → (6 − 9)/4 = −0.75, 10 → −1; weight 0.5 halves it.
    func testOverlongPunishmentIsAdded() {
        let (r, overlong) = StepRewards.combine(taskRewards: task, tokenCounts: lengths, truncated: cut,
                                                settings: settings(buffer: 4, weight: 0.5))
        XCTAssertEqual(overlong, [0, -1, -0.75, -1])
        XCTAssertEqual(r, [1, 0.5, -0.375, -0.5])
    }
}
