import Adapters
import Numerics
import Transformer
import XCTest

/// The low-rank forward path and the merge against dense products.
final class LowRankTests: XCTestCase {
    override class func setUp() { BLAS.useSingleThread() }

    /// Dense reference in double: ΔW = B·R·A, y = x·ΔWᵀ.
    private func denseDelta(a: [Float], r: [Float], b: [Float], rank: Int, out: Int, in n: Int) -> [Double] {
        var br = [Double](repeating: 0, count: out * rank)
        for o in 0 ..< out { for i in 0 ..< rank { for j in 0 ..< rank { br[o * rank + i] += Double(b[o * rank + j]) * Double(r[j * rank + i]) } } }
        var d = [Double](repeating: 0, count: out * n)
        for o in 0 ..< out { for c in 0 ..< n { for i in 0 ..< rank { d[o * n + c] += br[o * rank + i] * Double(a[i * n + c]) } } }
        return d
    }

    func testLowRankPathEqualsDenseDelta() throws {
        for (out, n, rank) in [(37, 53, 2), (64, 40, 8), (5, 300, 1), (130, 70, 64)] {
            let a = Support.gaussian(rank * n, seed: 1, stream: UInt64(out))
            let b = Support.gaussian(out * rank, seed: 2, stream: UInt64(out))
            let r = Support.gaussian(rank * rank, seed: 3, stream: UInt64(out))
            let delta = try LowRankDelta(a: a, b: b, r: r, rank: rank, outFeatures: out, inFeatures: n)
            let dw = denseDelta(a: a, r: r, b: b, rank: rank, out: out, in: n)
            for t in [1, 7, 300] {
                let x = Support.gaussian(t * n, seed: 4, stream: UInt64(t))
                let base = Support.gaussian(t * out, seed: 5, stream: UInt64(t))
                var y = base
                x.withUnsafeBufferPointer { xp in
                    y.withUnsafeMutableBufferPointer { delta.addDelta(xp.baseAddress!, rows: t, into: $0.baseAddress!, threads: 2) }
                }
                var worst = 0.0
                for row in 0 ..< t {
                    for o in 0 ..< out {
                        var expected = Double(base[row * out + o])
                        var scale = 0.0
                        for c in 0 ..< n {
                            expected += Double(x[row * n + c]) * dw[o * n + c]
                            scale += abs(Double(x[row * n + c]) * dw[o * n + c])
                        }
                        worst = max(worst, abs(Double(y[row * out + o]) - expected) / (scale + 1))
                    }
                }
                XCTAssertLessThan(worst, 1e-5, "out \(out) in \(n) r \(rank) T \(t)")
            }
            // Merge: W' = W + B·R·A.
            let w = Support.gaussian(out * n, seed: 6)
            let merged = delta.merged(into: w)
            for i in 0 ..< out * n {
                XCTAssertEqual(Double(merged[i]), Double(w[i]) + dw[i], accuracy: 1e-4 * (1 + abs(dw[i])))
            }
        }
    }

    func testShapeMismatchThrows() {
        XCTAssertThrowsError(try LowRankDelta(a: [0, 0], b: [0, 0], r: [0], rank: 1, outFeatures: 2, inFeatures: 3))
    }

    func testProjectionsAreSeededPerModule() {
        let p0 = Projections.make(seed: 42, moduleIndex: 0, u: 13, rank: 2)
        XCTAssertEqual(p0.count, 52)
        XCTAssertEqual(p0, Projections.make(seed: 42, moduleIndex: 0, u: 13, rank: 2))
        XCTAssertNotEqual(p0, Projections.make(seed: 42, moduleIndex: 1, u: 13, rank: 2))
        XCTAssertNotEqual(p0, Projections.make(seed: 43, moduleIndex: 0, u: 13, rank: 2))
        // The definition: the module's Xoshiro stream, N(0, 1) scaled by 1/√r, row-major.
        var rng = Xoshiro256StarStar(seed: 42, stream: 0)
        let direct = rng.normalFloats(count: 52).map { $0 / Float(2).squareRoot() }
        for i in 0 ..< 52 { XCTAssertEqual(p0[i], direct[i], accuracy: 1e-6) }
        // Variance 1/r over many draws.
        let big = Projections.make(seed: 7, moduleIndex: 3, u: 4000, rank: 4)
        let variance = big.reduce(0.0) { $0 + Double($1 * $1) } / Double(big.count)
        XCTAssertEqual(variance, 0.25, accuracy: 0.01)
    }
}
