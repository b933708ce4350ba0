import Numerics
import XCTest

/// The AVX-512 decode-attention products against fp64 loops and, bit for bit, against the portable path's arithmetic
/// (`dot(q, k) * scale`, then `out = fma(p, v, out)` over the positions in order), over head counts that cross the
/// register blocks, lengths that leave every remainder of the 16- and 4-key unrolls, and strides wider than a head.
final class DecodeAttentionTests: XCTestCase {
    func testScoresAndWeightedValuesMatchFP64() throws {
        try XCTSkipUnless(DecodeAttention.isSupported(headDim: 64), "needs AVX-512F")
        var rng = KernelTests.Rng(state: 7)
        for d in [16, 64, 128] {
            for heads in [1, 3, 7, 8, 9, 14] {
                for length in [1, 2, 3, 4, 5, 6, 7, 16, 17, 33, 47, 130] {
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
                    let portableScores: [Float] = q.withUnsafeBufferPointer { qp in
                        cache.withUnsafeBufferPointer { c in
                            (0 ..< heads * length).map { t in
                                dot(qp.baseAddress! + (t / length) * d, c.baseAddress! + d + (t % length) * stride,
                                    count: d) * scale
                            }
                        }
                    }
                    XCTAssertEqual(scores, portableScores, "scores bit for bit, d \(d) heads \(heads) length \(length)")

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
                    var portable = [Float](repeating: 0, count: heads * d)
                    for i in 0 ..< heads {
                        for j in 0 ..< length {
                            for e in 0 ..< d {
                                portable[i * d + e] = portable[i * d + e].addingProduct(p[i * length + j],
                                                                                        cache[d + j * stride + e])
                            }
                        }
                    }
                    XCTAssertEqual(out, portable, "values bit for bit, d \(d) heads \(heads) length \(length)")
                }
            }
        }
    }

    /// The fp16-cache kernels equal the fp32 kernels run on the widened values, bit for bit.
    func testFP16CacheKernelsEqualTheFP32KernelsOnWidenedValues() throws {
        try XCTSkipUnless(DecodeAttention.isSupported(headDim: 64), "needs AVX-512F")
        var rng = KernelTests.Rng(state: 11)
        for d in [16, 64, 128] {
            for heads in [1, 3, 7] {
                for length in [1, 5, 16, 17, 47] {
                    let stride = d  // a KVCache head's rows
                    let bits = rng.array(length * stride).map { Half.floatToF16($0) }
                    let widened = bits.map { Half.f16ToFloat($0) }
                    let q = rng.array(heads * d), p = rng.array(heads * length)
                    var scores16 = [Float](repeating: .nan, count: heads * length), scores32 = scores16
                    var out16 = [Float](repeating: .nan, count: heads * d), out32 = out16
                    DecodeAttention.scores(q: q, heads: heads, headDim: d, keys: bits, stride: stride, length: length,
                                           scale: 0.125, into: &scores16)
                    DecodeAttention.scores(q: q, heads: heads, headDim: d, keys: widened, stride: stride,
                                           length: length, scale: 0.125, into: &scores32)
                    DecodeAttention.values(p: p, heads: heads, values: bits, stride: stride, length: length,
                                           headDim: d, into: &out16)
                    DecodeAttention.values(p: p, heads: heads, values: widened, stride: stride, length: length,
                                           headDim: d, into: &out32)
                    XCTAssertEqual(scores16, scores32, "scores d \(d) heads \(heads) length \(length)")
                    XCTAssertEqual(out16, out32, "values d \(d) heads \(heads) length \(length)")
                }
            }
        }
    }

    func testUnsupportedHeadSizesAreRefused() {
        XCTAssertFalse(DecodeAttention.isSupported(headDim: 72))
        XCTAssertFalse(DecodeAttention.isSupported(headDim: 0))
    }
}
