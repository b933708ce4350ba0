import XCTest
import Numerics

final class HalfTests: XCTestCase {
    func testBF16RoundTripAndRounding() {
        XCTAssertEqual(Half.bf16ToFloat(0x3F80), 1.0)
        XCTAssertEqual(Half.floatToBF16(1.0), 0x3F80)
        // 1 + 2^-8 lies exactly between two bf16 values: ties go to even (1.0).
        XCTAssertEqual(Half.floatToBF16(1.0 + 1.0 / 256), 0x3F80)
        // Just above the midpoint rounds up.
        XCTAssertEqual(Half.floatToBF16(1.0 + 1.0 / 256 + 1.0 / 65536), 0x3F81)
        XCTAssertTrue(Half.bf16ToFloat(Half.floatToBF16(.nan)).isNaN)
    }

    func testF16() {
        XCTAssertEqual(Half.f16ToFloat(0x3C00), 1.0)
        XCTAssertEqual(Half.f16ToFloat(0xC000), -2.0)
        XCTAssertEqual(Half.floatToF16(65504), 0x7BFF)
        XCTAssertEqual(Half.f16ToFloat(0x0001), Float(1.0 / 16_777_216.0))
    }
}
