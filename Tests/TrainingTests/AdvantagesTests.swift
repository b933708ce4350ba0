import Training
import XCTest

/// Advantages against hand-computed values (TRL semantics: group mean, unbiased std, ε = 1e-4).
final class AdvantagesTests: XCTestCase {
    /// Three prompts × G = 4:
    /// - group 0 [1, 0, 0, 1]: mean ½, unbiased std √((4·¼)/3) = √(1/3); A = ±½/(√(1/3) + 1e-4)
    /// - group 1 [2, 2, 2, 2]: std 0, A = 0 (a zero-spread group)
    /// - group 2 [0, 0, 0, 1]: mean ¼, Σ(r − ¼)² = 3/16 + 9/16 = ¾, std √(¾/3) = ½; A = −¼/0.5001 (×3), ¾/0.5001
    /// - batch: mean 11/12, Σ(r − m)² = Σr² − 12·m² = 19 − 121/12 = 107/12, std √(107/132)
    static let rewards: [Float] = [1, 0, 0, 1, 2, 2, 2, 2, 0, 0, 0, 1]

    func testGroupScaling() throws {
        let a = try Advantages(rewards: AdvantagesTests.rewards, groupSize: 4, scaling: .group)
        let s0 = (1.0 / 3).squareRoot() + 1e-4
        let expected = [0.5 / s0, -0.5 / s0, -0.5 / s0, 0.5 / s0, 0, 0, 0, 0,
                        -0.25 / 0.5001, -0.25 / 0.5001, -0.25 / 0.5001, 0.75 / 0.5001]
        for (x, e) in zip(a.values, expected) { XCTAssertEqual(Double(x), e, accuracy: 1e-6) }
        XCTAssertEqual(a.groupMeans, [0.5, 2, 0.25])
        XCTAssertEqual(a.groupStandardDeviations[0], (1.0 / 3).squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(a.groupStandardDeviations[2], 0.5, accuracy: 1e-12)
        XCTAssertEqual(a.zeroSpreadFraction, 1.0 / 3, accuracy: 1e-12)
    }

    func testBatchScaling() throws {
        let a = try Advantages(rewards: AdvantagesTests.rewards, groupSize: 4, scaling: .batch)
        let s = (107.0 / 132).squareRoot() + 1e-4
        let expected = [0.5 / s, -0.5 / s, -0.5 / s, 0.5 / s, 0, 0, 0, 0, -0.25 / s, -0.25 / s, -0.25 / s, 0.75 / s]
        for (x, e) in zip(a.values, expected) { XCTAssertEqual(Double(x), e, accuracy: 1e-6) }
        XCTAssertEqual(a.zeroSpreadFraction, 1.0 / 3, accuracy: 1e-12)
    }

    func testNoScaling() throws {
        let a = try Advantages(rewards: AdvantagesTests.rewards, groupSize: 4, scaling: .none)
        XCTAssertEqual(a.values, [0.5, -0.5, -0.5, 0.5, 0, 0, 0, 0, -0.25, -0.25, -0.25, 0.75])
    }

    func testBadInputIsRefused() {
        XCTAssertThrowsError(try Advantages(rewards: [1, 2], groupSize: 1)) { XCTAssertTrue("\($0)".contains("at least 2")) }
        XCTAssertThrowsError(try Advantages(rewards: [1, 2, 3], groupSize: 2)) { XCTAssertTrue("\($0)".contains("multiple")) }
        XCTAssertThrowsError(try Advantages(rewards: [], groupSize: 2)) { XCTAssertTrue("\($0)".contains("no rewards")) }
        XCTAssertThrowsError(try Advantages(rewards: [1, .nan], groupSize: 2)) { XCTAssertTrue("\($0)".contains("reward 1")) }
    }
}
