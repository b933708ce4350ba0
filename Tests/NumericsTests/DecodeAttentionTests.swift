import Numerics
import XCTest

/// The AVX-512 decode-attention products against fp64 loops, over head counts that cross the 8-head register block,
/// lengths that leave every remainder of the 4-key and 2-key unrolls, and strides wider than a head.
final class DecodeAttentionTests: XCTestCase {
    func testScoresAndWeightedValuesMatchFP64() throws {
        try XCTSkipUnless(DecodeAttention.isSupported(headDim: 64), "needs AVX-512F")
        var rng = KernelTests.Rng(state: 7)
        for d in [16, 64, 128] {
            for heads in [1, 3, 7, 8, 9, 14] {
                for length in [1, 2, 3, 4, 5, 6, 7, 33, 130] {
                    let stride = 3 * d + 16      // kv rows hold several heads; this head starts at offset d
                    let q = rng.array(heads * d)
                    let cache = rng.array(length * stride + d)
                    let scale = Float(1 / Double(d).squareRoot())
                    var scores = [Float](repeating: .nan, count: heads * length)
                    cache.withUnsafeBufferPointer { c in
                        DecodeAttention.scores(q: q, heads: heads, headDim: d, keys: c.baseAddress! + d,
                                               stride: stride, length: length, scale: scale, into: &scores)
                    }
                    var worst: Double = 0
                    for i in 0 ..< heads {
                        for j in 0 ..< length {
                            var s: Double = 0
                            for e in 0 ..< d { s += Double(q[i * d + e]) * Double(cache[d + j * stride + e]) }
                            worst = max(worst, abs(s * Double(scale) - Double(scores[i * length + j])))
                        }
                    }
                    XCTAssertLessThan(worst, 1e-5, "scores d \(d) heads \(heads) length \(length)")

                    let p = rng.array(heads * length)
                    var out = [Float](repeating: .nan, count: heads * d)
                    cache.withUnsafeBufferPointer { c in
                        DecodeAttention.values(p: p, heads: heads, values: c.baseAddress! + d, stride: stride,
                                               length: length, headDim: d, into: &out)
                    }
                    worst = 0
                    for i in 0 ..< heads {
                        for e in 0 ..< d {
                            var s: Double = 0
                            for j in 0 ..< length { s += Double(p[i * length + j]) * Double(cache[d + j * stride + e]) }
                            worst = max(worst, abs(s - Double(out[i * d + e])))
                        }
                    }
                    XCTAssertLessThan(worst, 1e-4, "values d \(d) heads \(heads) length \(length)")
                }
            }
        }
    }

    func testUnsupportedHeadSizesAreRefused() {
        XCTAssertFalse(DecodeAttention.isSupported(headDim: 72))
        XCTAssertFalse(DecodeAttention.isSupported(headDim: 0))
    }
}
