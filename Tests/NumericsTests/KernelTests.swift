import Foundation
import Numerics
import XCTest

/// Each kernel against a naive loop on random data (seeded, so failures reproduce).
final class KernelTests: XCTestCase {
    struct Rng {
        var state: UInt64
        mutating func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2_000_001 - 1_000_000) / 1_000_000
        }
        mutating func array(_ n: Int, scale: Float = 1) -> [Float] { (0 ..< n).map { _ in next() * scale } }
    }

    func naiveXWt(_ x: [Float], _ w: [Float], m: Int, n: Int, k: Int) -> [Float] {
        var y = [Float](repeating: 0, count: m * n)
        for i in 0 ..< m {
            for j in 0 ..< n {
                var s: Double = 0
                for t in 0 ..< k { s += Double(x[i * k + t]) * Double(w[j * k + t]) }
                y[i * n + j] = Float(s)
            }
        }
        return y
    }

    func assertClose(_ a: [Float], _ b: [Float], tol: Float, _ message: String = "", line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, line: line)
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, tol, message, line: line)
    }

    func testMatMulMatchesNaiveForMatvecAndGemm() {
        var rng = Rng(state: 1)
        // Shapes cover: M = 1 (own matvec, rows not a multiple of 4, K with a tail), M > 1 (sgemm), tiny work.
        for (m, n, k) in [(1, 37, 19), (1, 300, 576), (1, 1030, 64), (3, 37, 19), (16, 300, 576), (5, 4, 3),
                          (9, 70, 40), (17, 33, 80), (40, 64, 32)] {
            let x = rng.array(m * k), w = rng.array(n * k)
            let expected = naiveXWt(x, w, m: m, n: n, k: k)
            for kernel in MatMul.Kernel.allCases {
                var y = [Float](repeating: .nan, count: m * n)
                MatMul.xWt(x, rows: m, w, outFeatures: n, inFeatures: k, into: &y, threads: 2, kernel: kernel)
                assertClose(y, expected, tol: 1e-4, "\(kernel) m=\(m) n=\(n) k=\(k)")
                var z = [Float](repeating: 2, count: m * n)
                MatMul.xWt(x, rows: m, w, outFeatures: n, inFeatures: k, into: &z, accumulate: true, threads: 1, kernel: kernel)
                assertClose(z, expected.map { $0 + 2 }, tol: 1e-4, "\(kernel) accumulate m=\(m) n=\(n) k=\(k)")
            }
            for threads in [1, 2] {
                var y = [Float](repeating: .nan, count: m * n)
                MatMul.xWt(x, rows: m, w, outFeatures: n, inFeatures: k, into: &y, threads: threads)
                assertClose(y, expected, tol: 1e-4, "m=\(m) n=\(n) k=\(k) threads=\(threads)")
                // Accumulate adds to what is there.
                var z = [Float](repeating: 1, count: m * n)
                MatMul.xWt(x, rows: m, w, outFeatures: n, inFeatures: k, into: &z, accumulate: true, threads: threads)
                assertClose(z, expected.map { $0 + 1 }, tol: 1e-4, "accumulate m=\(m) n=\(n) k=\(k)")
            }
        }
    }

    func testRMSNorm() {
        var rng = Rng(state: 2)
        let rows = 3, n = 37
        let x = rng.array(rows * n, scale: 5), w = rng.array(n)
        var y = [Float](repeating: 0, count: rows * n)
        Kernels.rmsNorm(x, weight: w, rows: rows, n: n, eps: 1e-5, into: &y)
        var expected = [Float]()
        for r in 0 ..< rows {
            let row = x[r * n ..< (r + 1) * n]
            let ms = row.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(n)
            let s = 1 / (ms + 1e-5).squareRoot()
            expected += zip(row, w).map { Float(Double($0) * s) * $1 }
        }
        assertClose(y, expected, tol: 1e-5)
    }

    func testSiluMul() {
        var rng = Rng(state: 3)
        let g = rng.array(50, scale: 8), u = rng.array(50)
        var out = [Float](repeating: 0, count: 50)
        Kernels.siluMul(gate: g, up: u, count: 50, into: &out)
        let expected = zip(g, u).map { Float(Double($0) / (1 + exp(-Double($0))) * Double($1)) }
        assertClose(out, expected, tol: 1e-6)
    }

    /// The C SwiGLU kernels (used on AVX-512 CPUs) against the Swift SIMD16 code they replace: equal bit for bit,
    /// forward and backward, on full blocks and tails, with values that reach σ's clamp (|g| > 87.3), ±0, ±∞ and
    /// subnormals (NaN in gives NaN out in both).
    func testSiluMulKernelsEqualPortableBitForBit() throws {
        try XCTSkipUnless(BlockDecode.isSupported, "no AVX-512: siluMul runs the portable code itself")
        var rng = Rng(state: 11)
        for n in [1, 7, 16, 17, 33, 1000] {
            var g = rng.array(n, scale: 12), u = rng.array(n, scale: 3)
            let da = rng.array(n, scale: 2)
            let special: [Float] = [0, -0.0, 100, -100, .infinity, -.infinity, 1e-40, -1e-40, .nan, -87.3, -87.31]
            for (k, v) in special.enumerated() where k < n { g[(k * 7) % n] = v }
            u[n - 1] = -0.5
            var fast = [Float](repeating: 7, count: n + 1), slow = fast
            Kernels.siluMul(gate: g, up: u, count: n, into: &fast)
            Kernels.portableSiluMul(gate: g, up: u, count: n, into: &slow)
            assertSameBits(fast, slow, "forward, n \(n)")
            XCTAssertEqual(fast[n], 7, "the element past the end is untouched")
            var g1 = g, u1 = u, g2 = g, u2 = u
            Kernels.siluMulBackward(gate: &g1, up: &u1, outputGradient: da, count: n)
            Kernels.portableSiluMulBackward(gate: &g2, up: &u2, outputGradient: da, count: n)
            assertSameBits(g1, g2, "dg, n \(n)")
            assertSameBits(u1, u2, "du, n \(n)")
        }
    }

    private func assertSameBits(_ a: [Float], _ b: [Float], _ what: String, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, what, line: line)
        for (i, (x, y)) in zip(a, b).enumerated() where !(x.isNaN && y.isNaN) && x.bitPattern != y.bitPattern {
            return XCTFail("\(what): element \(i): \(x) against \(y)", line: line)
        }
    }

    func testSoftmaxLogSumExpArgmax() {
        var rng = Rng(state: 4)
        let x = rng.array(100, scale: 30)
        let lse = log(x.reduce(0.0) { $0 + exp(Double($1)) })
        XCTAssertEqual(Double(Kernels.logSumExp(x, count: x.count)), lse, accuracy: 1e-5)
        var p = x
        Kernels.softmax(&p, count: p.count)
        assertClose(p, x.map { Float(exp(Double($0) - lse)) }, tol: 1e-6)
        let best = x.indices.max { x[$0] < x[$1] }!
        XCTAssertEqual(Kernels.argmax(x, count: x.count), best)
        XCTAssertEqual(Kernels.argmax([1, 3, 3, 2], count: 4), 1, "first index wins ties")
        // Large values must not overflow.
        XCTAssertEqual(Kernels.logSumExp([1000, 1000], count: 2), 1000 + Float(log(2.0)), accuracy: 1e-3)
    }

    /// `argmax` against a plain scan (lowest index of the largest number above −∞, NaN skipped, −1 if none) on
    /// lengths around the 16-lane blocks, with ties inside a lane, across lanes and between the blocks and the tail.
    func testArgmaxIsTheFirstLargestNumber() {
        func reference(_ x: [Float]) -> Int {
            var best = -1
            for i in x.indices where x[i] > -.infinity && (best < 0 || x[i] > x[best]) { best = i }
            return best
        }
        var rng = Rng(state: 12)
        for n in [1, 2, 15, 16, 17, 31, 32, 33, 47, 100] {
            for trial in 0 ..< 20 {
                // Few distinct values, so ties are common; some NaN and −∞.
                var x = rng.array(n, scale: 2).map { Float(Int($0)) }
                if trial % 3 == 0 { x[trial % n] = .nan }
                if trial % 4 == 0 { x[(trial * 7) % n] = -.infinity }
                XCTAssertEqual(Kernels.argmax(x, count: n), reference(x), "n = \(n), trial \(trial): \(x)")
            }
        }
        XCTAssertEqual(Kernels.argmax([Float](repeating: 1, count: 40) + [1], count: 41), 0, "ties: the first index")
        XCTAssertEqual(Kernels.argmax([Float](repeating: 0, count: 32) + [1], count: 33), 32, "largest in the tail")
        XCTAssertEqual(Kernels.argmax([.nan, -.infinity, .nan], count: 3), -1, "no number above −∞")
        XCTAssertEqual(Kernels.argmax([.nan, -.infinity, -5], count: 3), 2)
    }

    func testMaximumFindsTheLargestInBlocksAndTail() {
        var rng = Rng(state: 9)
        for n in [1, 2, 15, 16, 17, 31, 32, 33, 47] {
            for at in Set([0, n / 2, n - 1]) {
                var x = rng.array(n, scale: 5).map { $0 - 100 }  // all negative: the −∞ start must not win
                x[at] = -50
                XCTAssertEqual(Kernels.maximum(x, count: n), -50, "n \(n), largest at \(at)")
            }
        }
    }

    func testRoPERotateHalfAndInterleaved() {
        var rng = Rng(state: 5)
        let d = 8, heads = 2, theta = 10000.0, position = 7
        let rope = RoPE(headDim: d, theta: theta)
        var c = [Float](repeating: 0, count: d / 2), s = c
        rope.angles(position: position, cos: &c, sin: &s)
        let x = rng.array(heads * d)
        var half = x, inter = x
        rope.applyRotateHalf(&half, heads: heads, cos: c, sin: s)
        rope.applyInterleaved(&inter, heads: heads, cos: c, sin: s)
        var expectedHalf = x, expectedInter = x
        for h in 0 ..< heads {
            for i in 0 ..< d / 2 {
                let a = Double(position) / pow(theta, Double(2 * i) / Double(d))
                let (ca, sa) = (cos(a), sin(a))
                let b = h * d
                expectedHalf[b + i] = Float(Double(x[b + i]) * ca - Double(x[b + i + d / 2]) * sa)
                expectedHalf[b + i + d / 2] = Float(Double(x[b + i + d / 2]) * ca + Double(x[b + i]) * sa)
                expectedInter[b + 2 * i] = Float(Double(x[b + 2 * i]) * ca - Double(x[b + 2 * i + 1]) * sa)
                expectedInter[b + 2 * i + 1] = Float(Double(x[b + 2 * i + 1]) * ca + Double(x[b + 2 * i]) * sa)
            }
        }
        assertClose(half, expectedHalf, tol: 1e-5)
        assertClose(inter, expectedInter, tol: 1e-5)
        // Position 0 is the identity.
        rope.angles(position: 0, cos: &c, sin: &s)
        var same = x
        rope.applyRotateHalf(&same, heads: heads, cos: c, sin: s)
        XCTAssertEqual(same, x)
    }

    func testParallelVisitsEveryIndexOnce() {
        for threads in [1, 2, 3] {
            var hits = [Int](repeating: 0, count: 1000)
            hits.withUnsafeMutableBufferPointer { h in
                Parallel.forEach(count: 1000, threads: threads) { h[$0] += 1 }
            }
            XCTAssertEqual(hits, [Int](repeating: 1, count: 1000))
            var covered = [Int](repeating: 0, count: 103)
            covered.withUnsafeMutableBufferPointer { h in
                Parallel.forRanges(total: 103, parts: 4, alignment: 16, threads: threads) { r in
                    for i in r { h[i] += 1 }
                }
            }
            XCTAssertEqual(covered, [Int](repeating: 1, count: 103))
        }
    }

    /// The spinning pool under churn: thousands of short jobs with worker counts going up and down (threads made
    /// earlier sit out of smaller jobs), jobs started from inside a job (the busy pool falls back to Dispatch), and
    /// jobs from several threads at once. Every index is visited exactly once and nothing hangs.
    func testParallelPoolUnderChurnNestingAndConcurrentCallers() {
        let saved = Parallel.usesSpinningPool
        Parallel.usesSpinningPool = true
        Parallel.setPoolBackoff(enabled: false)  // a loaded test machine must not send these jobs to Dispatch
        defer {
            Parallel.usesSpinningPool = saved
            Parallel.setPoolBackoff(enabled: true)
        }
        for round in 0 ..< 3000 {
            let threads = [2, 3, 2, 4, 2, 1][round % 6]
            var hits = [Int](repeating: 0, count: 37)
            hits.withUnsafeMutableBufferPointer { h in
                Parallel.forEach(count: 37, threads: threads) { h[$0] += 1 }
            }
            XCTAssertEqual(hits, [Int](repeating: 1, count: 37), "round \(round), \(threads) threads")
        }
        var nested = [Int](repeating: 0, count: 4 * 50)
        nested.withUnsafeMutableBufferPointer { h in
            Parallel.forEach(count: 4, threads: 2) { outer in
                Parallel.forEach(count: 50, threads: 2) { inner in h[outer * 50 + inner] += 1 }
            }
        }
        XCTAssertEqual(nested, [Int](repeating: 1, count: 200))
        var concurrent = [Int](repeating: 0, count: 3 * 400 * 64)
        concurrent.withUnsafeMutableBufferPointer { h in
            DispatchQueue.concurrentPerform(iterations: 3) { caller in
                for job in 0 ..< 400 {
                    Parallel.forEach(count: 64, threads: 2) { h[(caller * 400 + job) * 64 + $0] += 1 }
                }
            }
        }
        XCTAssertEqual(concurrent, [Int](repeating: 1, count: 3 * 400 * 64))
    }

    /// The pool's contention back-off: jobs whose worker part holds the caller far longer than its own part (a 3 ms
    /// sleep against 0.2 ms, as a worker preempted by another process would) make the pool step aside, and the calls
    /// made meanwhile still visit every index once (on Dispatch threads).
    func testParallelPoolBacksOffWhenWorkersHoldTheCaller() {
        let saved = Parallel.usesSpinningPool
        Parallel.usesSpinningPool = true
        Parallel.setPoolBackoff(enabled: true)
        defer {
            Parallel.usesSpinningPool = saved
            Parallel.setPoolBackoff(enabled: true)
        }
        let before = Parallel.poolBackoffs
        for _ in 0 ..< 12 where Parallel.poolBackoffs == before {
            // Part 0 (the caller's) lasts long enough for the worker to take part 1, which then holds the caller.
            Parallel.forEach(count: 2, threads: 2) { i in usleep(i == 0 ? 200 : 3000) }
        }
        XCTAssertGreaterThan(Parallel.poolBackoffs, before, "slow worker parts did not make the pool back off")
        var hits = [Int](repeating: 0, count: 64)
        hits.withUnsafeMutableBufferPointer { h in
            for _ in 0 ..< 10 { Parallel.forEach(count: 64, threads: 2) { h[$0] += 1 } }
        }
        XCTAssertEqual(hits, [Int](repeating: 10, count: 64))
    }
}
