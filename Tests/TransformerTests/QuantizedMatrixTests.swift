import Foundation
import ModelFiles
import Numerics
import Transformer
import XCTest

/// `QuantizedMatrix` on real tensors of the two shipped GGUF files (every block type they hold: Q4_1, Q8_0 in
/// SmolLM2-135M; Q5_0, Q8_0, Q4_K, Q6_K in Qwen2.5-Coder-0.5B), against an fp64 product of the same weights
/// decoded by `GGUFFile.dequantizeRows`.
///
/// Tolerance: |y − y_ref| ≤ 1e-5 · Σ_j |x_j·w_j| (+ the accumulated term), where y_ref is the fp64 product of the
/// decoded weights (M ≤ 4 with `integerDot: false`: fp32 kernel) or of the decoded weights and x both rounded to bf16
/// (M > 4 on a CPU with AVX-512 BF16: the bf16 kernel); fp32 summation of ≤ 4864 terms stays far below it, while a
/// wrong block, row, scale or pair gives errors of the order of the magnitude sum itself. The integer-dot path
/// (M ≤ 4 on a CPU with AVX-512 VNNI) rounds x to 16 bits per group of 32 (step dx = max|x_group|/32767), so its bound
/// adds Σ_j |w_j|·dx_j/2, the most that rounding can move the product.
final class QuantizedMatrixTests: XCTestCase {
    static let smol = "SmolLM2-135M-Instruct.Q4_1.gguf"
    static let qwen = "Qwen2.5-Coder-0.5B-Instruct.gguf"

    /// (file, tensor, expected type): one tensor of every type present.
    static let cases: [(String, String, GGMLType)] = [
        (smol, "blk.3.ffn_down.weight", .q4_1),
        (smol, "token_embd.weight", .q8_0),
        (qwen, "blk.2.attn_q.weight", .q5_0),
        (qwen, "blk.0.attn_v.weight", .q8_0),
        (qwen, "blk.2.ffn_down.weight", .q4_K),
        (qwen, "blk.0.ffn_down.weight", .q6_K),
    ]

    struct Rng {
        var state: UInt64
        mutating func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2_000_001 - 1_000_000) / 1_000_000
        }
        mutating func array(_ n: Int) -> [Float] { (0 ..< n).map { _ in next() } }
    }

    /// `rows` consecutive output rows starting at `first` of a tensor, as a matrix over the file's bytes.
    static func slice(_ file: GGUFFile, _ name: String, first: Int, rows: Int) throws -> (QuantizedMatrix, [Float]) {
        let info = try XCTUnwrap(file.tensorInfo(name))
        let k = info.dims[0]
        let rowBytes = try XCTUnwrap(info.type.byteCount(elements: k))
        let raw = file.rawData(info)
        let bytes = UnsafeRawBufferPointer(rebasing: raw[first * rowBytes ..< (first + rows) * rowBytes])
        let matrix = try QuantizedMatrix(type: info.type, outFeatures: rows, inFeatures: k, bytes: bytes, owner: file)
        var decoded = [Float](repeating: 0, count: rows * k)
        try decoded.withUnsafeMutableBufferPointer { try file.dequantizeRows(info, first ..< first + rows, into: $0.baseAddress!) }
        return (matrix, decoded)
    }

    /// fp64 `x·Wᵀ` and `Σ|x_j·w_j|` per output.
    static func reference(_ x: [Float], _ w: [Float], m: Int, n: Int, k: Int) -> ([Double], [Double]) {
        var value = [Double](repeating: 0, count: m * n), scale = value
        for r in 0 ..< m {
            for o in 0 ..< n {
                var s = 0.0, a = 0.0
                for j in 0 ..< k {
                    let p = Double(x[r * k + j]) * Double(w[o * k + j])
                    s += p
                    a += abs(p)
                }
                value[r * n + o] = s
                scale[r * n + o] = a
            }
        }
        return (value, scale)
    }

    /// `Σ_j |w[o, j]|·dx_j/2` for every (row, output): the most that rounding x to 16 bits per group of 32
    /// (dx = max|x_group|/32767) can move the product.
    static func integerDotRoundingBound(_ x: [Float], _ w: [Float], m: Int, n: Int, k: Int) -> [Double] {
        var bound = [Double](repeating: 0, count: m * n)
        for r in 0 ..< m {
            let steps = (0 ..< k / 32).map { g in
                Double(x[(r * k + 32 * g) ..< (r * k + 32 * g + 32)].reduce(Float(0)) { max($0, abs($1)) }) / 32767
            }
            for o in 0 ..< n {
                var s = 0.0
                for j in 0 ..< k { s += Double(abs(w[o * k + j])) * steps[j / 32] / 2 }
                bound[r * n + o] = s
            }
        }
        return bound
    }

    func testProductsMatchFloat64ReferenceForEveryShippedType() throws {
        var rng = Rng(state: 11)
        var files: [String: GGUFFile] = [:]
        for (name, tensor, type) in Self.cases {
            let file = try files[name] ?? GGUFFile(path: GoldenLogitsTests.modelPath(name))
            files[name] = file
            XCTAssertEqual(file.tensorInfo(tensor)?.type, type, "\(name) \(tensor)")
            // 37 rows (two whole blocks of 16 and a partial one) from an odd offset.
            let n = 37
            let (matrix, w) = try Self.slice(file, tensor, first: 5, rows: n)
            let k = matrix.inFeatures
            XCTAssertEqual(matrix.dequantized(), w, "\(tensor): decoding equals GGUFFile.dequantizeRows bit for bit")
            for m in [1, 3, 5, 13] {
                let x = rng.array(m * k)
                let roundingBound = Self.integerDotRoundingBound(x, w, m: m, n: n, k: k)
                // (false, false): the exact fp32 paths; (true, true): what the CPU allows (bf16 above 4 rows,
                // integer dots up to 4).
                for fast in [false, true] {
                    let bf16 = fast && BFloat16.isSupported && m > MatMul.smallBatchMaxRows
                    let integerDot = fast && QuantizedDot.supports(typeCode: type.rawValue) && m <= QuantizedDot.maxRows
                    let (value, scale) = bf16
                        ? Self.reference(x.map(BFloat16.rounded), w.map(BFloat16.rounded), m: m, n: n, k: k)
                        : Self.reference(x, w, m: m, n: n, k: k)
                    for threads in [1, 2] {
                        for accumulate in [false, true] {
                            let base: Float = accumulate ? 0.5 : 0
                            var y = [Float](repeating: accumulate ? base : .nan, count: m * n)
                            matrix.xWt(x, rows: m, into: &y, accumulate: accumulate, threads: threads, bf16: fast, integerDot: fast)
                            var worst = 0.0
                            for i in y.indices {
                                let allowed = integerDot ? roundingBound[i] : 0
                                let error = max(0, abs(Double(y[i]) - Double(base) - value[i]) - allowed)
                                    / max(scale[i] + Double(base), 1e-30)
                                worst = max(worst, error.isNaN ? .infinity : error)
                            }
                            XCTAssertLessThanOrEqual(worst, 1e-5, "\(tensor) \(type.name) m=\(m) bf16=\(bf16) integerDot=\(integerDot) threads=\(threads) accumulate=\(accumulate)")
                        }
                    }
                }
            }
        }
    }

    /// A row order (llama's Q/K permutation) decodes the stored rows in that order: the result equals the fp32
    /// weights the model loads (which `GGUFWeights` un-permutes), and the product uses it.
    func testRowOrderGivesTheHuggingFaceRows() throws {
        let file = try GGUFFile(path: GoldenLogitsTests.modelPath(Self.smol))
        let config = try TransformerConfig(gguf: file)
        let info = try XCTUnwrap(file.tensorInfo("blk.1.attn_k.weight"))
        let rows = config.kvDim
        let order = QKPermutation.ggufRows(heads: config.kvHeadCount, rows: rows)
        let matrix = try QuantizedMatrix(type: info.type, outFeatures: rows, inFeatures: config.hiddenSize,
                                         bytes: file.rawData(info), owner: file, rowOrder: order)
        let expected = try XCTUnwrap(GGUFWeights(file: file, config: config).tensor(.layer(1, .kWeight), shape: [rows, config.hiddenSize]))
        XCTAssertEqual(matrix.dequantized(), expected)
        XCTAssertNotEqual(order, Array(0 ..< rows), "the order is not the identity")
    }

    func testBadShapesAndTypesAreErrors() throws {
        let bytes = [UInt8](repeating: 0, count: 20 * 4)
        try bytes.withUnsafeBytes { raw in
            XCTAssertNoThrow(try QuantizedMatrix(type: .q4_1, outFeatures: 4, inFeatures: 32, copying: raw))
            for (type, out, inF) in [(GGMLType.q4_1, 4, 31), (.q4_1, 3, 32), (.q4_1, 2, 96), (.f32, 20, 1), (.q4_1, 0, 32)] {
                XCTAssertThrowsError(try QuantizedMatrix(type: type, outFeatures: out, inFeatures: inF, copying: raw)) {
                    XCTAssertTrue("\($0)".contains("quantized weights"), "\($0)")
                }
            }
            XCTAssertThrowsError(try QuantizedMatrix(type: .q4_1, outFeatures: 4, inFeatures: 32, copying: raw, rowOrder: [0, 1, 1, 3]))
        }
    }

    /// Throughput of the quantized product against the packed bf16 matrix of the same (decoded) weights, printed for
    /// the record (BENCHMARKS.md), at the Qwen MLP's shapes; the results must agree (bf16 path: same rounded inputs).
    func testSpeedAgainstPackedBF16() throws {
        guard BFloat16.isSupported else { throw XCTSkip("this CPU has no AVX-512 BF16 (avx512_bf16)") }
        let file = try GGUFFile(path: GoldenLogitsTests.modelPath(Self.qwen))
        var rng = Rng(state: 3)
        for tensor in ["blk.2.ffn_up.weight", "blk.2.ffn_down.weight", "blk.2.attn_q.weight"] {
            let info = try XCTUnwrap(file.tensorInfo(tensor))
            let (n, k) = (info.dims[1], info.dims[0])
            let (matrix, w) = try Self.slice(file, tensor, first: 0, rows: n)
            let packed = try w.withUnsafeBufferPointer { try PackedBF16Matrix($0.baseAddress!, outFeatures: n, inFeatures: k, threads: 2) }
            for m in [1, 16, 64] {
                let x = rng.array(m * k)
                var yq = [Float](repeating: 0, count: m * n), yb = yq
                let reps = m == 1 ? 40 : m == 16 ? 10 : 4
                func time(_ body: () -> Void) -> Double {
                    var best = Double.infinity
                    for _ in 0 ..< reps {
                        let t0 = DispatchTime.now().uptimeNanoseconds
                        body()
                        best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
                    }
                    return best
                }
                let flops = 2.0 * Double(m * n * k)
                for threads in [1, 2] {
                    let tq = time { matrix.xWt(x, rows: m, into: &yq, threads: threads) }
                    let tb = time { packed.xWt(x, rows: m, into: &yb, threads: threads) }
                    print(String(format: "%@ %@ [%d, %d] M=%d threads=%d: quantized %.1f GFLOPS, packed bf16 %.1f GFLOPS (%.2fx)",
                                 tensor, info.type.name, n, k, m, threads, flops / tq * 1e-9, flops / tb * 1e-9, tb / tq))
                }
                if m > MatMul.smallBatchMaxRows {
                    XCTAssertEqual(yq, yb, "\(tensor) M=\(m): the same bf16 products (same kernel on the same rounded panel)")
                }
            }
        }
    }
}
