import Adapters
import CBLAS
import Foundation
import ModelFiles
import Numerics
import Transformer
import XCTest

/// Helpers shared by the adapter tests.
enum Support {
    /// Full thin SVD of a row-major `[m, n]` matrix by LAPACK `sgesdd` (the reference). Returns U `[m, p]`,
    /// s `[p]`, Vᵀ `[p, n]` row-major, p = min(m, n).
    static func lapackSVD(_ w: [Float], rows m: Int, columns n: Int) -> (u: [Float], s: [Float], vt: [Float]) {
        // Row-major W is column-major Wᵀ [n, m] = V S Uᵀ: LAPACK's "U" is our V, its "VT" is our Uᵀ.
        let p = min(m, n)
        var a = w
        var s = [Float](repeating: 0, count: p)
        var lu = [Float](repeating: 0, count: n * p)   // column-major [n, p] = V
        var lvt = [Float](repeating: 0, count: p * m)  // column-major [p, m] = Uᵀ
        var jobz: CChar = CChar(UInt8(ascii: "S"))
        var rowsL = Int32(n), colsL = Int32(m), lda = Int32(n), ldu = Int32(n), ldvt = Int32(p)
        var info: Int32 = 0
        var iwork = [Int32](repeating: 0, count: 8 * p)
        var lwork: Int32 = -1
        var query: Float = 0
        sgesdd_(&jobz, &rowsL, &colsL, &a, &lda, &s, &lu, &ldu, &lvt, &ldvt, &query, &lwork, &iwork, &info, 1)
        lwork = Int32(query) + 1
        var work = [Float](repeating: 0, count: Int(lwork))
        sgesdd_(&jobz, &rowsL, &colsL, &a, &lda, &s, &lu, &ldu, &lvt, &ldvt, &work, &lwork, &iwork, &info, 1)
        precondition(info == 0, "sgesdd failed: \(info)")
        var u = [Float](repeating: 0, count: m * p)
        var vt = [Float](repeating: 0, count: p * n)
        for i in 0 ..< m { for j in 0 ..< p { u[i * p + j] = lvt[i * p + j] } }  // lvt col-major [p, m]: (j, i) at i*p + j
        for j in 0 ..< p { for i in 0 ..< n { vt[j * n + i] = lu[j * n + i] } }  // lu col-major [n, p]: (i, j) at j*n + i
        return (u, s, vt)
    }

    /// ‖X Xᵀ − Y Yᵀ‖_F for two orthonormal column blocks of equal rank: X `[rows, r]` taken as columns `0..<r` of a
    /// row-major `[rows, xStride]` matrix, Y likewise. Computed as √2·‖X − Y(YᵀX)‖_F in double (the form
    /// √(2r − 2‖YᵀX‖²) loses half the digits).
    static func projectorDistance(_ x: [Float], xStride: Int, _ y: [Float], yStride: Int, rows: Int, rank r: Int) -> Double {
        var c = [Double](repeating: 0, count: r * r)  // YᵀX
        for i in 0 ..< rows {
            for p in 0 ..< r { for q in 0 ..< r { c[p * r + q] += Double(y[i * yStride + p]) * Double(x[i * xStride + q]) } }
        }
        var sum = 0.0
        for i in 0 ..< rows {
            for q in 0 ..< r {
                var e = Double(x[i * xStride + q])
                for p in 0 ..< r { e -= Double(y[i * yStride + p]) * c[p * r + q] }
                sum += e * e
            }
        }
        return (2 * sum).squareRoot()
    }

    /// Transposes a row-major `[rows, cols]` matrix.
    static func transpose(_ a: [Float], rows: Int, cols: Int) -> [Float] {
        var t = [Float](repeating: 0, count: a.count)
        for i in 0 ..< rows { for j in 0 ..< cols { t[j * rows + i] = a[i * cols + j] } }
        return t
    }

    static func gaussian(_ count: Int, seed: UInt64, stream: UInt64 = 0, std: Float = 1) -> [Float] {
        var rng = Xoshiro256StarStar(seed: seed, stream: stream)
        return rng.normalFloats(count: count, standardDeviation: std)
    }

    /// The models directory ($TINYLORA_HOME/models, default ~/.cache/tinylora/models).
    static func modelPath(_ file: String) throws -> String {
        let home = ProcessInfo.processInfo.environment["TINYLORA_HOME"]
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".cache/tinylora")
        let path = (home as NSString).appendingPathComponent("models/\(file)")
        guard FileManager.default.fileExists(atPath: path) else {
            XCTFail("missing model file \(path) (fetch it into $TINYLORA_HOME/models)")
            throw XCTSkip("missing \(path)")
        }
        return path
    }

    /// Qwen2.5-Coder-0.5B (2 threads) with a 13-parameter TinyLoRA (r = 2, one group over all 168 modules) whose
    /// v ~ N(0, 0.01²) (seed 5): the setting of the backward speed and memory measurements.
    static func qwenWithTinyLoRA13() throws -> (model: TransformerModel, adapter: Adapter) {
        let file = try GGUFFile(path: modelPath("Qwen2.5-Coder-0.5B-Instruct.gguf"))
        let config = try TransformerConfig(gguf: file)
        let weights = GGUFWeights(file: file, config: config)
        let model = try TransformerModel(config: config, weights: weights, threads: 2)
        let plan = try AdapterPlan(configuration: .init(method: .tinyLoRA, rank: 2, u: 13, tying: .all), model: config)
        let adapter = try Adapter(base: try FrozenBase.build(plan: plan, model: config, weights: weights),
                                  parameters: gaussian(13, seed: 5, std: 0.01))
        return (model, adapter)
    }

    /// Singular values to `valueTolerance` relative, both subspaces to `subspaceTolerance`.
    static func checkAgainstLAPACK(_ w: [Float], rows m: Int, columns n: Int, rank r: Int, label: String,
                                    valueTolerance: Double = 1e-4, subspaceTolerance: Double = 1e-4,
                                    file: StaticString = #filePath, line: UInt = #line) throws {
        let svd = try w.withUnsafeBufferPointer {
            try TruncatedSVD.compute($0.baseAddress!, rows: m, columns: n, rank: r)
        }
        let ref = Support.lapackSVD(w, rows: m, columns: n)
        let p = min(m, n)
        for i in 0 ..< r {
            let rel = abs(Double(svd.singularValues[i]) - Double(ref.s[i])) / Double(ref.s[0])
            XCTAssertLessThan(rel, valueTolerance, "\(label): s[\(i)] \(svd.singularValues[i]) vs \(ref.s[i])",
                              file: file, line: line)
        }
        let du = Support.projectorDistance(svd.u, xStride: r, ref.u, yStride: p, rows: m, rank: r)
        let dv = Support.projectorDistance(Support.transpose(svd.vt, rows: r, cols: n), xStride: r,
                                           Support.transpose(ref.vt, rows: p, cols: n), yStride: p, rows: n, rank: r)
        XCTAssertLessThan(du, subspaceTolerance, "\(label): left subspace distance", file: file, line: line)
        XCTAssertLessThan(dv, subspaceTolerance, "\(label): right subspace distance", file: file, line: line)
        let gap = r < p ? ref.s[r - 1] / ref.s[r] : .infinity
        print("\(label) r=\(r): iterations \(svd.iterations), estimate \(svd.estimatedError), |ΔUUᵀ| \(du), "
            + "|ΔVVᵀ| \(dv), s_r/s_r+1 \(gap)")
    }

}
