import Numerics
import XCTest

/// The bf16 kernels: rounding fp32 → bf16 (scalar and the vector path applied to activations) on a table written
/// out by hand, and the packed `vdpbf16ps` product against an fp64 product of the bf16-rounded inputs.
final class BF16MatMulTests: XCTestCase {
    func requireBF16() throws {
        guard BFloat16.isSupported else { throw XCTSkip("this CPU has no AVX-512 BF16 (avx512_bf16)") }
    }

    /// (fp32 bits, expected bf16 bits). bf16 = the top 16 bits of the fp32 pattern after rounding the low 16 bits
    /// to nearest, ties to the even bf16 (low bit of the kept 16 bits 0).
    static let roundingTable: [(UInt32, UInt16, String)] = [
        (0x3F80_0000, 0x3F80, "1.0 exact"),
        (0x3F80_7FFF, 0x3F80, "just below half an ulp: down"),
        (0x3F80_8000, 0x3F80, "tie, kept pattern 0x3F80 even: down"),
        (0x3F80_8001, 0x3F81, "just above half: up"),
        (0x3F81_8000, 0x3F82, "tie, 0x3F81 odd: up to even"),
        (0xBF81_8000, 0xBF82, "negative tie, odd: away from zero to even"),
        (0xBF80_8000, 0xBF80, "negative tie, even: toward zero"),
        (0x0000_0000, 0x0000, "+0"),
        (0x8000_0000, 0x8000, "-0"),
        (0x7F80_0000, 0x7F80, "+inf"),
        (0xFF80_0000, 0xFF80, "-inf"),
        (0x7F7F_7FFF, 0x7F7F, "largest finite bf16 region: down"),
        (0x7F7F_8000, 0x7F80, "tie above the largest finite bf16 (odd): up to +inf"),
        (0x7F7F_FFFF, 0x7F80, "largest finite fp32: +inf"),
        (0xFF7F_FFFF, 0xFF80, "most negative finite fp32: -inf"),
        (0x7FC0_0000, 0x7FC0, "quiet NaN"),
        (0x7F80_0001, 0x7FC0, "signalling NaN, payload only in dropped bits: stays NaN (quiet)"),
        (0xFF80_0001, 0xFFC0, "negative NaN keeps its sign"),
        (0x7FFF_FFFF, 0x7FFF, "NaN with all mantissa bits: not rounded into the sign bit"),
        (0x0000_8000, 0x0000, "subnormal tie, even: down to +0"),
        (0x0001_8000, 0x0002, "subnormal tie, odd: up"),
        (0x0000_8001, 0x0001, "subnormal above half: smallest bf16 subnormal"),
        (0x8000_0001, 0x8000, "smallest negative fp32 subnormal: -0"),
        (0x007F_FFFF, 0x0080, "largest fp32 subnormal: rounds up to the smallest normal"),
    ]

    func testScalarRoundingTable() {
        for (input, expected, what) in Self.roundingTable {
            let got = BFloat16.bits(rounding: Float(bitPattern: input))
            XCTAssertEqual(got, expected, "\(what): 0x\(String(input, radix: 16)) → 0x\(String(got, radix: 16))")
        }
        XCTAssertEqual(BFloat16.float(bits: 0x3F82), Float(bitPattern: 0x3F82_0000))
        XCTAssertEqual(BFloat16.rounded(1 + 1.0 / 128 + 1.0 / 256), 1 + 2.0 / 128)
    }

    func testVectorRoundingMatchesTableAndScalar() throws {
        try requireBF16()
        // The table as one row (odd count: the vector loop, its masked tail and the zero pad) and as 3 rows.
        var values = Self.roundingTable.map { Float(bitPattern: $0.0) }
        values.append(Float(bitPattern: 0x3F80_8000))  // 25 values
        let expected = Self.roundingTable.map(\.1) + [0x3F80]
        let row = BFloat16.roundRows(values, rows: 1, k: values.count)
        XCTAssertEqual(row.count, 26)
        XCTAssertEqual(Array(row[0 ..< 25]), expected)
        XCTAssertEqual(row[25], 0, "odd k is padded with a zero")
        // Random bit patterns (all classes of values): vector == scalar, rows of odd length.
        var state: UInt64 = 5
        var bits = [Float]()
        for _ in 0 ..< 3 * 37 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            bits.append(Float(bitPattern: UInt32(truncatingIfNeeded: state >> 29)))
        }
        let rows = BFloat16.roundRows(bits, rows: 3, k: 37)
        for r in 0 ..< 3 {
            for j in 0 ..< 37 {
                XCTAssertEqual(rows[r * 38 + j], BFloat16.bits(rounding: bits[r * 37 + j]), "row \(r) column \(j)")
            }
            XCTAssertEqual(rows[r * 38 + 37], 0)
        }
    }

    typealias Rng = MatMulKernelTests.Rng

    func testPackedProductMatchesFloat64ReferenceOfRoundedInputs() throws {
        try requireBF16()
        var rng = Rng(state: 23)
        for m in 1 ... 70 {
            // N: one partial block, 7.5 blocks, 12.7 blocks (the 8-, 4-, 2- and 1-block column groups and their
            // tails); K odd and even, below and above one 16-wide conversion step.
            let n = [37, 120, 203][m % 3], k = [19, 150, 281, 412, 543][m % 5]
            let x = rng.array(m * k), w = rng.array(n * k)
            let (value, scale) = MatMulKernelTests.reference(x.map(BFloat16.rounded), w.map(BFloat16.rounded),
                                                             m: m, n: n, k: k)
            let packed = try w.withUnsafeBufferPointer {
                try PackedBF16Matrix($0.baseAddress!, outFeatures: n, inFeatures: k, threads: 2)
            }
            for threads in [1, 2] {
                for accumulate in [false, true] {
                    let base: Float = accumulate ? 0.75 : 0
                    var y = [Float](repeating: accumulate ? base : .nan, count: m * n)
                    packed.xWt(x, rows: m, into: &y, accumulate: accumulate, threads: threads)
                    var worst = 0.0
                    for i in y.indices {
                        let expected = Double(base) + value[i]
                        let error = abs(Double(y[i]) - expected) / max(scale[i] + Double(base), 1e-30)
                        worst = max(worst, error.isNaN ? .infinity : error)
                    }
                    XCTAssertLessThanOrEqual(worst, 1e-5, "m=\(m) n=\(n) k=\(k) threads=\(threads) accumulate=\(accumulate)")
                }
            }
        }
    }

    /// Columns of the padded last block and rows beyond M are never written.
    func testWritesOnlyTheOutputMatrix() throws {
        try requireBF16()
        var rng = Rng(state: 7)
        let m = 5, n = 21, k = 9
        let x = rng.array(m * k), w = rng.array(n * k)
        let packed = try w.withUnsafeBufferPointer {
            try PackedBF16Matrix($0.baseAddress!, outFeatures: n, inFeatures: k)
        }
        var y = [Float](repeating: -7, count: m * n + 64)
        y.withUnsafeMutableBufferPointer { packed.xWt(x, rows: m, into: $0.baseAddress!, threads: 2) }
        XCTAssertEqual(Array(y[(m * n)...]), [Float](repeating: -7, count: 64))
        XCTAssertFalse(y[0 ..< m * n].contains(-7))
        XCTAssertEqual(packed.byteCount, 2 * 5 * 64, "2 blocks of 16 outputs × 5 pairs × 64 bytes")
    }

    /// Several matrices on one input in one pass (a layer's q, k, v) give each matrix's own product bit for bit,
    /// whatever blocks the threads' ranges put together: shapes with padded last blocks, odd K, small and large M
    /// (the last shape is large enough to be split between threads).
    func testSharedInputProductsEqualSeparateProducts() throws {
        try requireBF16()
        var rng = Rng(state: 11)
        for (k, outs) in [(9, [21, 5, 40]), (64, [64, 16, 16]), (33, [100, 3]), (256, [300, 64, 72])] {
            let matrices = try outs.map { n in
                try rng.array(n * k).withUnsafeBufferPointer {
                    try PackedBF16Matrix($0.baseAddress!, outFeatures: n, inFeatures: k)
                }
            }
            for m in [1, 3, 7, 13, 40] {
                let x = rng.array(m * k)
                for threads in [1, 2, 3] {
                    let separate = matrices.map { matrix in
                        var y = [Float](repeating: .nan, count: m * matrix.outFeatures)
                        matrix.xWt(x, rows: m, into: &y, threads: threads)
                        return y
                    }
                    let outputs = matrices.map { UnsafeMutablePointer<Float>.allocate(capacity: m * $0.outFeatures) }
                    defer { outputs.forEach { $0.deallocate() } }
                    for (y, matrix) in zip(outputs, matrices) { y.update(repeating: .nan, count: m * matrix.outFeatures) }
                    PackedBF16Matrix.xWt(x, rows: m, matrices: matrices, into: outputs, threads: threads)
                    for (i, matrix) in matrices.enumerated() {
                        let shared = Array(UnsafeBufferPointer(start: outputs[i], count: m * matrix.outFeatures))
                        let differing = zip(shared, separate[i]).filter { $0.bitPattern != $1.bitPattern }.count
                        XCTAssertEqual(differing, 0, "k=\(k) outputs=\(outs) m=\(m) threads=\(threads): matrix \(i), "
                                       + "\(differing) of \(shared.count) values differ from its own product")
                    }
                }
            }
        }
    }
}
