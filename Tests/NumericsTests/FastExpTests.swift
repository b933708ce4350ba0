import Foundation
import Numerics
import XCTest

/// `FastExp.nonPositive` against libm's exp in double, and its edge values.
final class FastExpTests: XCTestCase {
    func testFastExpMatchesLibm() {
        var worst = 0.0
        var x: Float = 0
        while x > -87.3 {
            var lanes = SIMD16<Float>()
            for lane in 0 ..< 16 { lanes[lane] = x - Float(lane) * 0.000_37 }
            let e = FastExp.nonPositive(lanes)
            for lane in 0 ..< 16 where lanes[lane] > -87.3 {
                let exact = Foundation.exp(Double(lanes[lane]))
                worst = max(worst, abs(Double(e[lane]) - exact) / exact)
            }
            x -= 0.0123
        }
        XCTAssertLessThan(worst, 4e-7)
        let edges = FastExp.nonPositive(SIMD16(0, -.infinity, -87.4, -1000, -1e-30, -0.5, -1, -2, -10, -20, -40, -80,
                                               -87.2, -0.693_147_18, -3, -4))
        XCTAssertEqual(edges[0], 1)
        XCTAssertEqual(edges[1], 0)
        XCTAssertEqual(edges[2], 0)
        XCTAssertEqual(edges[3], 0)
        XCTAssertEqual(edges[4], 1)
        XCTAssertEqual(Double(edges[13]), 0.5, accuracy: 1e-7)
    }
}
