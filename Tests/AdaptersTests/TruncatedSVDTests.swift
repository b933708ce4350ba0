import Foundation
import ModelFiles
import Numerics
import Transformer
import XCTest

/// The top-r truncated SVD against LAPACK's full `sgesdd`.
final class TruncatedSVDTests: XCTestCase {
    override class func setUp() { BLAS.useSingleThread() }

    /// W = G·(noise) + a planted spectrum: Σᵢ cᵢ aᵢ bᵢᵀ with decaying cᵢ, so the top singular values are separated.
    private func planted(rows m: Int, columns n: Int, seed: UInt64) -> [Float] {
        var w = Support.gaussian(m * n, seed: seed, std: 1 / Float(max(m, n)).squareRoot())
        let spikes = 12
        let a = Support.gaussian(spikes * m, seed: seed, stream: 1, std: 1 / Float(m).squareRoot())
        let b = Support.gaussian(spikes * n, seed: seed, stream: 2, std: 1 / Float(n).squareRoot())
        for s in 0 ..< spikes {
            let c = 10 * Float(pow(0.8, Double(s)))
            for i in 0 ..< m { for j in 0 ..< n { w[i * n + j] += c * a[s * m + i] * b[s * n + j] } }
        }
        return w
    }

    func testRandomPlantedSpectraMatchLAPACK() throws {
        for (m, n) in [(300, 200), (150, 400), (64, 64)] {
            let w = planted(rows: m, columns: n, seed: UInt64(m * 1000 + n))
            for r in [1, 2, 8] {
                try Support.checkAgainstLAPACK(w, rows: m, columns: n, rank: r, label: "planted \(m)x\(n)")
            }
        }
    }

    func testSmallMatrixUsesTheWholeSpace() throws {
        // k = min(m, n): one Rayleigh–Ritz step is exact.
        let w = Support.gaussian(12 * 7, seed: 3)
        try Support.checkAgainstLAPACK(w, rows: 12, columns: 7, rank: 5, label: "gaussian 12x7")
    }

    func testDeterministicAndSignConvention() throws {
        let (m, n, r) = (200, 120, 4)
        let w = planted(rows: m, columns: n, seed: 11)
        let a = try w.withUnsafeBufferPointer { try TruncatedSVD.compute($0.baseAddress!, rows: m, columns: n, rank: r) }
        let b = try w.withUnsafeBufferPointer { try TruncatedSVD.compute($0.baseAddress!, rows: m, columns: n, rank: r) }
        XCTAssertEqual(a.u.map(\.bitPattern), b.u.map(\.bitPattern))
        XCTAssertEqual(a.vt.map(\.bitPattern), b.vt.map(\.bitPattern))
        XCTAssertEqual(a.singularValues.map(\.bitPattern), b.singularValues.map(\.bitPattern))
        for j in 0 ..< r {
            let column = (0 ..< m).map { a.u[$0 * r + j] }
            let largest = column.max { abs($0) < abs($1) }!
            XCTAssertGreaterThan(largest, 0, "largest-magnitude component of u_\(j) must be positive")
            // u_j = W v_j / s_j (the flip is applied to both).
            var wv = [Float](repeating: 0, count: m)
            for i in 0 ..< m { for c in 0 ..< n { wv[i] += w[i * n + c] * a.vt[j * n + c] } }
            for i in 0 ..< m { XCTAssertEqual(wv[i] / a.singularValues[j], a.u[i * r + j], accuracy: 1e-4) }
        }
        // Negating W flips u (sign rule) but not v's product: u_j must stay positive at its largest entry.
        let negated = w.map { -$0 }
        let c = try negated.withUnsafeBufferPointer { try TruncatedSVD.compute($0.baseAddress!, rows: m, columns: n, rank: r) }
        for j in 0 ..< r {
            let column = (0 ..< m).map { c.u[$0 * r + j] }
            XCTAssertGreaterThan(column.max { abs($0) < abs($1) }!, 0)
            for i in 0 ..< n { XCTAssertEqual(c.vt[j * n + i], -a.vt[j * n + i], accuracy: 1e-4) }
        }
    }

    func testRankDeficientMatrices() throws {
        let (m, n) = (40, 30)
        let zero = [Float](repeating: 0, count: m * n)
        let z = try zero.withUnsafeBufferPointer { try TruncatedSVD.compute($0.baseAddress!, rows: m, columns: n, rank: 2) }
        XCTAssertEqual(z.singularValues, [0, 0])
        XCTAssertTrue(z.u.allSatisfy(\.isFinite) && z.vt.allSatisfy(\.isFinite))
        // Rank one: s = [‖a‖‖b‖, 0].
        let a = Support.gaussian(m, seed: 5), b = Support.gaussian(n, seed: 6)
        var w = [Float](repeating: 0, count: m * n)
        for i in 0 ..< m { for j in 0 ..< n { w[i * n + j] = a[i] * b[j] } }
        let s = try w.withUnsafeBufferPointer { try TruncatedSVD.compute($0.baseAddress!, rows: m, columns: n, rank: 3) }
        let expected = a.reduce(0) { $0 + $1 * $1 }.squareRoot() * b.reduce(0) { $0 + $1 * $1 }.squareRoot()
        XCTAssertEqual(s.singularValues[0], expected, accuracy: expected * 1e-5)
        XCTAssertLessThan(s.singularValues[1], expected * 1e-5)
        XCTAssertTrue(s.u.allSatisfy(\.isFinite) && s.vt.allSatisfy(\.isFinite))
        // U columns orthonormal even past the rank.
        for p in 0 ..< 3 {
            for q in 0 ..< 3 {
                var d: Float = 0
                for i in 0 ..< m { d += s.u[i * 3 + p] * s.u[i * 3 + q] }
                XCTAssertEqual(d, p == q ? 1 : 0, accuracy: 1e-4)
            }
        }
    }

    func testBadInputThrows() {
        var w = [Float](repeating: 1, count: 20)
        XCTAssertThrowsError(try TruncatedSVD.compute(w, rows: 4, columns: 5, rank: 5))
        XCTAssertThrowsError(try TruncatedSVD.compute(w, rows: 4, columns: 5, rank: 0))
        XCTAssertThrowsError(try TruncatedSVD.compute(w, rows: 0, columns: 5, rank: 1))
        w[7] = .nan
        XCTAssertThrowsError(try TruncatedSVD.compute(w, rows: 4, columns: 5, rank: 1)) { error in
            XCTAssertTrue("\(error)".contains("not finite"), "\(error)")
        }
    }

    /// SmolLM2-135M q_proj (un-permuted by the engine's loader) and down_proj, layers 0 and 15.
    func testRealSmolLM2WeightsMatchLAPACK() throws {
        let path = try Support.modelPath("SmolLM2-135M-Instruct.Q4_1.gguf")
        let file = try GGUFFile(path: path)
        let config = try TransformerConfig(gguf: file)
        let weights = GGUFWeights(file: file, config: config)
        for layer in [0, 15] {
            for t in [TensorName.LayerTensor.qWeight, .downWeight] {
                let name = TensorName.layer(layer, t)
                let shape = name.shape(config)
                let w = try XCTUnwrap(try weights.tensor(name, shape: shape))
                for r in [2, 8] {
                    try Support.checkAgainstLAPACK(w, rows: shape[0], columns: shape[1], rank: r, label: name.huggingFace)
                }
            }
        }
    }
}
