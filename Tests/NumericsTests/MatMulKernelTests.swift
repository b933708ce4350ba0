import Numerics
import XCTest

/// Every `MatMul` kernel against a naive fp64 product on odd shapes: M = 1 ... 70 (every panel layout of the
/// broadcast kernel: 8, 16, 32-row panels and their tails), N and K not multiples of 16 (column blocks of 8 with
/// leftovers, split over two threads; K tails of the SIMD loops), with and without accumulation.
final class MatMulKernelTests: XCTestCase {
    /// Seeded uniform values in [-1, 1).
    typealias Rng = KernelTests.Rng

    /// `(Σ_t x[i,t]·w[j,t], Σ_t |x[i,t]·w[j,t]|)` in Double for every (i, j).
    static func reference(_ x: [Float], _ w: [Float], m: Int, n: Int, k: Int) -> (value: [Double], scale: [Double]) {
        var value = [Double](repeating: 0, count: m * n), scale = value
        for i in 0 ..< m {
            for j in 0 ..< n {
                var s = 0.0, a = 0.0
                for t in 0 ..< k {
                    let p = Double(x[i * k + t]) * Double(w[j * k + t])
                    s += p
                    a += abs(p)
                }
                value[i * n + j] = s
                scale[i * n + j] = a
            }
        }
        return (value, scale)
    }

    /// Largest `|y − (base + ref)| / (scale + |base|)` (the error relative to the size of the terms summed).
    func worstRelativeError(_ y: [Float], base: Float, _ ref: (value: [Double], scale: [Double])) -> Double {
        var worst = 0.0
        for i in y.indices {
            let expected = Double(base) + ref.value[i]
            let error = abs(Double(y[i]) - expected) / max(ref.scale[i] + abs(Double(base)), 1e-30)
            worst = max(worst, error.isNaN ? .infinity : error)
        }
        return worst
    }

    func testEveryKernelMatchesFloat64ReferenceOnOddShapes() {
        var rng = Rng(state: 11)
        for m in 1 ... 70 {
            let n = [37, 120, 203][m % 3], k = [19, 150, 281, 412, 543][m % 5]
            let x = rng.array(m * k), w = rng.array(n * k)
            let ref = Self.reference(x, w, m: m, n: n, k: k)
            for kernel in MatMul.Kernel.allCases {
                for threads in [1, 2] {
                    var y = [Float](repeating: .nan, count: m * n)
                    MatMul.xWt(x, rows: m, w, outFeatures: n, inFeatures: k, into: &y, threads: threads, kernel: kernel)
                    XCTAssertLessThanOrEqual(worstRelativeError(y, base: 0, ref), 1e-5,
                                             "\(kernel) m=\(m) n=\(n) k=\(k) threads=\(threads)")
                    var z = [Float](repeating: 0.75, count: m * n)
                    MatMul.xWt(x, rows: m, w, outFeatures: n, inFeatures: k, into: &z, accumulate: true,
                               threads: threads, kernel: kernel)
                    XCTAssertLessThanOrEqual(worstRelativeError(z, base: 0.75, ref), 1e-5,
                                             "\(kernel) accumulate m=\(m) n=\(n) k=\(k) threads=\(threads)")
                }
            }
        }
    }

    func testNarrowOutputsAndTinyK() {
        // Fewer than 8 output columns (only leftover columns), K of 1 ... 3, rows spanning several panels.
        var rng = Rng(state: 12)
        for (m, n, k) in [(5, 3, 1), (9, 7, 2), (17, 1, 3), (33, 5, 3), (70, 9, 1), (2, 2, 1), (4, 1, 33)] {
            let x = rng.array(m * k), w = rng.array(n * k)
            let ref = Self.reference(x, w, m: m, n: n, k: k)
            for kernel in MatMul.Kernel.allCases {
                var y = [Float](repeating: .nan, count: m * n)
                MatMul.xWt(x, rows: m, w, outFeatures: n, inFeatures: k, into: &y, threads: 2, kernel: kernel)
                XCTAssertLessThanOrEqual(worstRelativeError(y, base: 0, ref), 1e-5, "\(kernel) m=\(m) n=\(n) k=\(k)")
            }
        }
    }

    func testDefaultKernelChoiceByRows() {
        XCTAssertEqual(MatMul.kernel(rows: 1), .matvec)
        XCTAssertEqual(MatMul.kernel(rows: 2), .smallBatch)
        XCTAssertEqual(MatMul.kernel(rows: MatMul.smallBatchMaxRows), .smallBatch)
        XCTAssertEqual(MatMul.kernel(rows: MatMul.smallBatchMaxRows + 1), .broadcast)
        XCTAssertEqual(MatMul.kernel(rows: MatMul.broadcastMaxRows), .broadcast)
        XCTAssertEqual(MatMul.kernel(rows: MatMul.broadcastMaxRows + 1), .sgemm)
    }
}
