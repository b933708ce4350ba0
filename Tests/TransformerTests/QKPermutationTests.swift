import Numerics
import Transformer
import XCTest

/// llama GGUF's Q/K row permutation: un-permuting restores HF order, and HF weights with rotate-half RoPE give the
/// same attention scores as the permuted weights with interleaved RoPE.
final class QKPermutationTests: XCTestCase {
    func testPermuteThenUnpermuteIsIdentity() {
        let heads = 3, d = 8, rowLength = 5
        let x = (0 ..< heads * d * rowLength).map { Float($0) }
        let p = QKPermutation.permute(x, heads: heads, rowLength: rowLength)
        XCTAssertNotEqual(p, x)
        XCTAssertEqual(QKPermutation.unpermute(p, heads: heads, rowLength: rowLength), x)
        XCTAssertEqual(QKPermutation.permute(QKPermutation.unpermute(x, heads: heads, rowLength: rowLength),
                                             heads: heads, rowLength: rowLength), x)
        // Within a head, GGUF row 2i + j holds HF row j·d/2 + i: rows 0, 4, 1, 5, 2, 6, 3, 7.
        let rows = QKPermutation.permute((0 ..< 8).map(Float.init), heads: 1, rowLength: 1)
        XCTAssertEqual(rows, [0, 4, 1, 5, 2, 6, 3, 7])
    }

    func testRotateHalfOnHFEqualsInterleavedOnPermuted() {
        var rng = Synthetic.Rng(state: 11)
        let heads = 2, d = 8, k = 6
        let wq = rng.array(heads * d * k, scale: 1), wk = rng.array(heads * d * k, scale: 1)
        let x = rng.array(k, scale: 1), y = rng.array(k, scale: 1)
        let rope = RoPE(headDim: d, theta: 10000)
        func project(_ w: [Float], _ v: [Float]) -> [Float] {
            var out = [Float](repeating: 0, count: heads * d)
            MatMul.xWt(v, rows: 1, w, outFeatures: heads * d, inFeatures: k, into: &out, threads: 1)
            return out
        }
        func rotated(_ v: [Float], position: Int, interleaved: Bool) -> [Float] {
            var c = [Float](repeating: 0, count: d / 2), s = c, r = v
            rope.angles(position: position, cos: &c, sin: &s)
            if interleaved { rope.applyInterleaved(&r, heads: heads, cos: c, sin: s) } else {
                rope.applyRotateHalf(&r, heads: heads, cos: c, sin: s)
            }
            return r
        }
        let pq = QKPermutation.permute(wq, heads: heads, rowLength: k)
        let pk = QKPermutation.permute(wk, heads: heads, rowLength: k)
        for (pqPos, pkPos) in [(5, 2), (0, 0), (17, 3)] {
            let qHF = rotated(project(wq, x), position: pqPos, interleaved: false)
            let kHF = rotated(project(wk, y), position: pkPos, interleaved: false)
            let qGG = rotated(project(pq, x), position: pqPos, interleaved: true)
            let kGG = rotated(project(pk, y), position: pkPos, interleaved: true)
            // The rotated vectors are the same up to the row order...
            let back = QKPermutation.unpermute(qGG, heads: heads, rowLength: 1)
            XCTAssertLessThan(zip(back, qHF).map { abs($0 - $1) }.max()!, 1e-5)
            // ...so every head's attention score q·k agrees.
            for h in 0 ..< heads {
                let r = h * d ..< (h + 1) * d
                let sHF = zip(qHF[r], kHF[r]).map(*).reduce(0, +)
                let sGG = zip(qGG[r], kGG[r]).map(*).reduce(0, +)
                XCTAssertEqual(sHF, sGG, accuracy: 1e-4)
            }
        }
    }
}
