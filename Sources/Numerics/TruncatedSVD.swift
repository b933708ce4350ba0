import CBLAS
import Foundation

/// The top-r singular triplets of an fp32 matrix `W` `[m, n]` (row-major; for a linear layer `m = out`, `n = in`):
/// `W ≈ U · diag(s) · Vᵀ` with `U` `[m, r]`, `s` `[r]` descending, `Vᵀ` `[r, n]`.
///
/// ## Algorithm (randomized subspace iteration with Rayleigh–Ritz)
/// With `k = min(m, n, r + oversampling)` columns:
/// 1. `Ω` `[n, k]`: standard normal values from `Xoshiro256StarStar(seed: options.seed, stream: 0).fillNormal`, in
///    row-major order. `Z = orth(Ω)`.
/// 2. Repeat: `Y = W·Z` `[m, k]` (fp32 sgemm). Rayleigh–Ritz: the eigen-decomposition `YᵀY = Ṽ·Λ·Ṽᵀ` (double,
///    cyclic Jacobi, eigenvalues descending) gives Ritz values `ŝᵢ = √λᵢ` and right vectors `vᵢ = Z·Ṽᵢ`.
///    Stop when the top-r right subspace moved by `d = ‖sin Θ(V_prev, V)‖_F` with `d·ρ/(1−ρ) ≤ tolerance`, where
///    `ρ = (ŝ_k / ŝ_r)²` estimates the per-iteration contraction (or after `maxIterations`). Otherwise
///    `Q = orth(Y)`, `Z = orth(Wᵀ·Q)` (fp32 sgemm) and repeat.
/// 3. `sᵢ = √λᵢ`, `vᵢ = Z·Ṽᵢ`, `uᵢ = Y·Ṽᵢ / sᵢ` (double), each normalised to unit length; `uᵢ` is then made
///    orthogonal to `u₀ … uᵢ₋₁` (a no-op up to rounding unless sᵢ is at rounding level).
///    Gram acceleration: when, after an iteration, the iterations still needed (estimated from the current error
///    and ρ) would cost more than forming the Gram matrix of the smaller side (`min(m,n)²·max(m,n)/2`
///    multiply-adds), the iteration continues on that Gram matrix (`GramStage`: same rule, iterations of cost
///    `min(m,n)²·k`), then `polishIterations` (2) direct iterations on W restore full fp32 accuracy and end it.
/// `orth` is CholeskyQR2 in double (Gram matrix by dsyrk, Cholesky, triangular solve, twice); when a column is
/// numerically dependent (a Cholesky pivot below 1e-13 of its diagonal entry) it falls back to modified Gram–Schmidt
/// applied twice, replacing a vanishing column by the first unit vector eᵢ that is not in the span so far.
///
/// ## Sign convention
/// For each i, the component of `uᵢ` with the largest magnitude (the first one on a tie) is positive; `vᵢ` is
/// flipped together with `uᵢ`. When `sᵢ = 0` (a matrix of rank < r), `uᵢ` is the first unit vector orthogonal to
/// the earlier uⱼ, and `vᵢ` is the Ritz vector.
///
/// ## Determinism
/// Single-threaded BLAS calls with fixed shapes (call `BLAS.useSingleThread()`; run several matrices in parallel
/// instead), a fixed-seed test matrix and a data-dependent but deterministic stopping rule: the same input gives the
/// bitwise same output on the same machine and OpenBLAS build.
public struct TruncatedSVD: Sendable {
    /// `m` (out features).
    public let rows: Int
    /// `n` (in features).
    public let columns: Int
    public let rank: Int
    /// `U` `[rows, rank]`, row-major.
    public var u: [Float]
    /// `s` `[rank]`, descending, ≥ 0.
    public var singularValues: [Float]
    /// `Vᵀ` `[rank, columns]`, row-major.
    public var vt: [Float]
    /// Subspace iterations run (direct ones plus those on the Gram matrix).
    public let iterations: Int
    /// The last `d·ρ/(1−ρ)` (an estimate of ‖sin Θ‖ between the computed and exact top-r right subspaces).
    public let estimatedError: Double

    public struct Options: Sendable, Equatable {
        /// Extra subspace columns beyond the rank (more: fewer iterations when the spectrum decays slowly).
        public var oversampling: Int
        /// Target estimated subspace error.
        public var tolerance: Double
        public var maxIterations: Int
        /// Seed of the random start `Ω`.
        public var seed: UInt64
        /// Iterations on the Gram matrix at most (when that stage runs).
        public var maxGramIterations: Int
        /// Direct iterations after the Gram stage (≥ 2: the last one measures the movement).
        public var polishIterations: Int
        /// Cost of one multiply-add of the skinny products `W·Z`, `Wᵀ·Q` relative to one of the Gram matrix
        /// (ssyrk), for the switch rule: OpenBLAS runs the k-column products ~3× slower per multiply-add here.
        public var skinnyProductCost: Double

        public init(oversampling: Int = 8, tolerance: Double = 1e-5, maxIterations: Int = 100,
                    seed: UInt64 = 0x5EED_5BD0, maxGramIterations: Int = 300, polishIterations: Int = 2,
                    skinnyProductCost: Double = 3) {
            self.skinnyProductCost = skinnyProductCost
            self.maxGramIterations = maxGramIterations
            self.polishIterations = max(2, polishIterations)
            self.oversampling = oversampling
            self.tolerance = tolerance
            self.maxIterations = maxIterations
            self.seed = seed
        }
    }

    public static let maxRank = 64

    /// Computes the top `rank` triplets of `w` `[rows, columns]` (row-major). Throws on a rank outside
    /// `1 ... min(64, rows, columns)`, empty shapes or non-finite entries.
    public static func compute(_ w: UnsafePointer<Float>, rows m: Int, columns n: Int, rank r: Int,
                               options: Options = Options()) throws -> TruncatedSVD {
        guard m > 0, n > 0 else { throw TruncatedSVDError("empty matrix [\(m), \(n)]") }
        guard r >= 1, r <= maxRank, r <= min(m, n) else {
            throw TruncatedSVDError("rank \(r) must be in 1...\(min(maxRank, m, n)) for a [\(m), \(n)] matrix")
        }
        guard options.oversampling >= 0, options.maxIterations >= 1 else {
            throw TruncatedSVDError("oversampling must be ≥ 0 and maxIterations ≥ 1")
        }
        for i in 0 ..< m * n where !w[i].isFinite {
            throw TruncatedSVDError("entry \(i / n),\(i % n) of the [\(m), \(n)] matrix is not finite (\(w[i]))")
        }
        let k = min(m, n, r + options.oversampling)

        var z = [Float](repeating: 0, count: n * k)
        var rng = Xoshiro256StarStar(seed: options.seed, stream: 0)
        z.withUnsafeMutableBufferPointer { rng.fillNormal($0) }
        var y = [Float](repeating: 0, count: m * k)
        var yd = [Double](repeating: 0, count: m * k)
        var zd = [Double](repeating: 0, count: n * k)
        var gram = [Double](repeating: 0, count: k * k)
        Orthonormalizer.run(&z, rows: n, cols: k, scratch: &zd)

        var previousV: [Double]? = nil
        var estimate = Double.infinity
        var iteration = 0
        var ritz: (values: [Double], vectors: [Double]) = ([], [])
        var polishLeft: Int? = nil  // set once the Gram stage has run
        var gramIterations = 0
        while true {
            iteration += 1
            // Y = W·Z
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(k), Int32(n),
                        1, w, Int32(n), z, Int32(k), 0, &y, Int32(k))
            for i in 0 ..< m * k { yd[i] = Double(y[i]) }
            cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(k), Int32(m), 1, yd, Int32(k), 0, &gram, Int32(k))
            ritz = SymmetricEigen.jacobi(gram, size: k)
            let v = rightVectors(z, rows: n, k: k, ritzVectors: ritz.vectors, rank: r)
            let top = max(ritz.values[r - 1], 0), last = max(ritz.values[k - 1], 0)
            let rho = top > 0 ? min(last / top, 0.999) : 0
            if let previousV {
                let moved = subspaceDistance(previousV, v, rows: n, rank: r)
                estimate = polishLeft == nil ? moved * rho / (1 - rho) : moved
                if polishLeft == nil, estimate <= options.tolerance { break }
            } else if k == min(m, n) {
                estimate = 0  // the subspace is the whole space: Rayleigh–Ritz is exact
                break
            }
            if let left = polishLeft {
                if left <= 1 { break }
                polishLeft = left - 1
            }
            if polishLeft == nil, iteration >= options.maxIterations { break }
            previousV = v
            // Q = orth(Y); Z = orth(Wᵀ·Q)
            Orthonormalizer.run(&y, rows: m, cols: k, scratch: &yd)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(n), Int32(k), Int32(m),
                        1, w, Int32(n), y, Int32(k), 0, &z, Int32(k))
            Orthonormalizer.run(&z, rows: n, cols: k, scratch: &zd)
            // Switch to iterating on the Gram matrix when that is cheaper than the direct iterations still needed.
            if polishLeft == nil, estimate.isFinite, rho > 0 {
                let needed = (log(options.tolerance / estimate) / log(rho)).rounded(.up)
                let small = Double(min(m, n)), large = Double(max(m, n))
                let directCost = needed * 2 * Double(m * n * k) * options.skinnyProductCost
                let gramCost = small * small * large / 2 + Double(options.polishIterations) * 2 * Double(m * n * k)
                if directCost > gramCost {
                    gramIterations += GramStage.run(w, rows: m, columns: n, rank: r, block: &z, tolerance: options.tolerance,
                                               maxIterations: options.maxGramIterations)
                    polishLeft = options.polishIterations
                    previousV = nil
                }
            }
        }
        return finish(y: y, z: z, m: m, n: n, k: k, r: r, ritz: ritz, iterations: iteration + gramIterations,
                      estimate: estimate)
    }

    /// `V = Z·Ṽ[:, :r]` `[n, r]` in double.
    private static func rightVectors(_ z: [Float], rows n: Int, k: Int, ritzVectors: [Double], rank r: Int) -> [Double] {
        var v = [Double](repeating: 0, count: n * r)
        for i in 0 ..< n {
            for j in 0 ..< r {
                var s = 0.0
                for c in 0 ..< k { s += Double(z[i * k + c]) * ritzVectors[c * k + j] }
                v[i * r + j] = s
            }
        }
        return v
    }

    /// ‖sin Θ‖_F between the column spans of two `[n, r]` matrices A, B with orthonormal columns: ‖B − A(AᵀB)‖_F
    /// (the form √(r − ‖AᵀB‖²_F) would lose half the digits).
    static func subspaceDistance(_ a: [Double], _ b: [Double], rows n: Int, rank r: Int) -> Double {
        var c = [Double](repeating: 0, count: r * r)
        for i in 0 ..< n {
            for p in 0 ..< r {
                let ap = a[i * r + p]
                for q in 0 ..< r { c[p * r + q] += ap * b[i * r + q] }
            }
        }
        var sum = 0.0
        for i in 0 ..< n {
            for q in 0 ..< r {
                var e = b[i * r + q]
                for p in 0 ..< r { e -= a[i * r + p] * c[p * r + q] }
                sum += e * e
            }
        }
        return sum.squareRoot()
    }

    private static func finish(y: [Float], z: [Float], m: Int, n: Int, k: Int, r: Int,
                               ritz: (values: [Double], vectors: [Double]), iterations: Int,
                               estimate: Double) -> TruncatedSVD {
        var u = [Float](repeating: 0, count: m * r)
        var vt = [Float](repeating: 0, count: r * n)
        var s = [Float](repeating: 0, count: r)
        var uColumns: [[Double]] = []
        for j in 0 ..< r {
            let sigma = max(ritz.values[j], 0).squareRoot()
            var vj = [Double](repeating: 0, count: n)
            for i in 0 ..< n {
                var acc = 0.0
                for c in 0 ..< k { acc += Double(z[i * k + c]) * ritz.vectors[c * k + j] }
                vj[i] = acc
            }
            normalize(&vj)
            var uj = [Double](repeating: 0, count: m)
            var uNorm = 0.0
            if sigma > 0 {
                for i in 0 ..< m {
                    var acc = 0.0
                    for c in 0 ..< k { acc += Double(y[i * k + c]) * ritz.vectors[c * k + j] }
                    uj[i] = acc / sigma
                }
                uNorm = normalize(&uj)
                // Keep U orthonormal when s_j is at rounding level (then Y·Ṽ_j / s_j is noise).
                for c in uColumns {
                    var d = 0.0
                    for i in 0 ..< m { d += c[i] * uj[i] }
                    for i in 0 ..< m { uj[i] -= d * c[i] }
                }
                if normalize(&uj) < 0.5 { uNorm = 0 }
            }
            if !(uNorm > 0) || !uNorm.isFinite {
                uj = firstUnitVectorOrthogonal(to: uColumns, length: m)
            }
            // Sign: largest-magnitude component of u_j positive (first on ties).
            var best = 0
            for i in 1 ..< m where abs(uj[i]) > abs(uj[best]) { best = i }
            let sign: Double = uj[best] < 0 ? -1 : 1
            for i in 0 ..< m { u[i * r + j] = Float(sign * uj[i]) }
            for i in 0 ..< n { vt[j * n + i] = Float(sign * vj[i]) }
            s[j] = Float(sigma)
            uColumns.append(uj)
        }
        return TruncatedSVD(rows: m, columns: n, rank: r, u: u, singularValues: s, vt: vt, iterations: iterations,
                            estimatedError: estimate)
    }

    @discardableResult
    private static func normalize(_ x: inout [Double]) -> Double {
        let norm = x.reduce(0) { $0 + $1 * $1 }.squareRoot()
        if norm > 0 { for i in x.indices { x[i] /= norm } }
        return norm
    }

    private static func firstUnitVectorOrthogonal(to columns: [[Double]], length m: Int) -> [Double] {
        for e in 0 ..< m {
            var x = [Double](repeating: 0, count: m)
            x[e] = 1
            for c in columns {
                let d = c[e]
                for i in 0 ..< m { x[i] -= d * c[i] }
            }
            if normalize(&x) > 1e-6 { return x }
        }
        return [Double](repeating: 0, count: m)
    }
}

public struct TruncatedSVDError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = "truncated SVD: " + description }
}

/// Orthonormalises the columns of a row-major fp32 `[rows, cols]` matrix (rows ≥ cols) in double:
/// CholeskyQR2, with modified Gram–Schmidt (twice) as the fallback for numerically dependent columns.
enum Orthonormalizer {
    static func run(_ x: inout [Float], rows m: Int, cols k: Int, scratch xd: inout [Double]) {
        for i in 0 ..< m * k { xd[i] = Double(x[i]) }
        if !(choleskyQR(&xd, rows: m, cols: k) && choleskyQR(&xd, rows: m, cols: k)) {
            for i in 0 ..< m * k { xd[i] = Double(x[i]) }
            gramSchmidt(&xd, rows: m, cols: k)
        }
        for i in 0 ..< m * k { x[i] = Float(xd[i]) }
    }

    /// X ← X·R⁻¹ with XᵀX = RᵀR; false (X unspecified) when a pivot is too small.
    static func choleskyQR(_ x: inout [Double], rows m: Int, cols k: Int) -> Bool {
        var g = [Double](repeating: 0, count: k * k)
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(k), Int32(m), 1, x, Int32(k), 0, &g, Int32(k))
        // Upper Cholesky in place: G = RᵀR.
        for j in 0 ..< k {
            let diagonal = g[j * k + j]
            var d = diagonal
            for p in 0 ..< j { d -= g[p * k + j] * g[p * k + j] }
            guard d > 1e-13 * diagonal, d.isFinite else { return false }
            let rjj = d.squareRoot()
            g[j * k + j] = rjj
            for c in j + 1 ..< max(k, j + 1) {
                var s = g[j * k + c]
                for p in 0 ..< j { s -= g[p * k + j] * g[p * k + c] }
                g[j * k + c] = s / rjj
            }
        }
        for i in 0 ..< k { for j in 0 ..< i { g[i * k + j] = 0 } }
        cblas_dtrsm(CblasRowMajor, CblasRight, CblasUpper, CblasNoTrans, CblasNonUnit, Int32(m), Int32(k), 1,
                    g, Int32(k), &x, Int32(k))
        return true
    }

    /// Modified Gram–Schmidt applied twice per column; a column that vanishes is replaced by the first unit
    /// vector not in the span of the earlier ones.
    static func gramSchmidt(_ x: inout [Double], rows m: Int, cols k: Int) {
        var nextUnit = 0
        for j in 0 ..< k {
            var original = 0.0
            for i in 0 ..< m { original += x[i * k + j] * x[i * k + j] }
            original = original.squareRoot()
            var norm = orthogonalize(&x, rows: m, cols: k, column: j)
            while !(norm > 1e-7 * original) || original == 0 {
                guard nextUnit < m else { break }
                for i in 0 ..< m { x[i * k + j] = i == nextUnit ? 1 : 0 }
                nextUnit += 1
                original = 1
                norm = orthogonalize(&x, rows: m, cols: k, column: j)
            }
            if norm > 0 { for i in 0 ..< m { x[i * k + j] /= norm } }
        }
    }

    /// Removes from column j its components along columns 0..<j (twice); returns its remaining norm.
    private static func orthogonalize(_ x: inout [Double], rows m: Int, cols k: Int, column j: Int) -> Double {
        for _ in 0 ..< 2 {
            for p in 0 ..< j {
                var d = 0.0
                for i in 0 ..< m { d += x[i * k + p] * x[i * k + j] }
                for i in 0 ..< m { x[i * k + j] -= d * x[i * k + p] }
            }
        }
        var norm = 0.0
        for i in 0 ..< m { norm += x[i * k + j] * x[i * k + j] }
        return norm.squareRoot()
    }
}

/// Subspace iteration on the Gram matrix of the smaller side (`G = WᵀW` `[n, n]` when m ≥ n, else `G = W·Wᵀ`
/// `[m, m]`, fp32 ssyrk): one product with G costs `min(m,n)²·k` instead of `2·m·n·k` for the same contraction
/// `λ_{k+1}/λ_r = (s_{k+1}/s_r)²`. Same Rayleigh–Ritz and stopping rule as the direct iteration (with
/// `ρ = λ_k/λ_r`). On return `block` holds an orthonormal right block `[n, k]`; the caller then polishes it with
/// direct iterations on W, which restore the accuracy the fp32 Gram matrix loses.
enum GramStage {
    static func run(_ w: UnsafePointer<Float>, rows m: Int, columns n: Int, rank r: Int, block z: inout [Float],
                    tolerance: Double, maxIterations: Int) -> Int {
        let k = z.count / n
        let s = min(m, n)
        var g = [Float](repeating: 0, count: s * s)
        if m >= n {
            cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(n), Int32(m), 1, w, Int32(n), 0, &g, Int32(n))
        } else {
            cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, Int32(m), Int32(n), 1, w, Int32(n), 0, &g, Int32(m))
        }
        for i in 0 ..< s { for j in 0 ..< i { g[i * s + j] = g[j * s + i] } }
        var x: [Float]
        var xd = [Double](repeating: 0, count: s * k)
        if m >= n {
            x = z
        } else {
            x = [Float](repeating: 0, count: m * k)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(m), Int32(k), Int32(n),
                        1, w, Int32(n), z, Int32(k), 0, &x, Int32(k))
            Orthonormalizer.run(&x, rows: m, cols: k, scratch: &xd)
        }
        var y = [Float](repeating: 0, count: s * k)
        var previous: [Double]? = nil
        var iterations = 0
        while iterations < maxIterations {
            iterations += 1
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(s), Int32(k), Int32(s),
                        1, g, Int32(s), x, Int32(k), 0, &y, Int32(k))
            // Rayleigh–Ritz: H = Xᵀ·G·X in double.
            var h = [Double](repeating: 0, count: k * k)
            for i in 0 ..< s {
                for p in 0 ..< k {
                    let xp = Double(x[i * k + p])
                    for q in p ..< k { h[p * k + q] += xp * Double(y[i * k + q]) }
                }
            }
            let ritz = SymmetricEigen.jacobi(h, size: k)
            var top = [Double](repeating: 0, count: s * r)
            for i in 0 ..< s {
                for j in 0 ..< r {
                    var acc = 0.0
                    for c in 0 ..< k { acc += Double(x[i * k + c]) * ritz.vectors[c * k + j] }
                    top[i * r + j] = acc
                }
            }
            if let previous {
                let lr = max(ritz.values[r - 1], 0), lk = max(ritz.values[k - 1], 0)
                let rho = lr > 0 ? min(lk / lr, 0.999) : 0
                if TruncatedSVD.subspaceDistance(previous, top, rows: s, rank: r) * rho / (1 - rho) <= tolerance {
                    break
                }
            }
            previous = top
            x = y
            Orthonormalizer.run(&x, rows: s, cols: k, scratch: &xd)
        }
        if m >= n {
            z = x
        } else {
            var zd = [Double](repeating: 0, count: n * k)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(n), Int32(k), Int32(m),
                        1, w, Int32(n), x, Int32(k), 0, &z, Int32(k))
            Orthonormalizer.run(&z, rows: n, cols: k, scratch: &zd)
        }
        return iterations
    }
}

/// Eigen-decomposition of a small symmetric matrix in double by the cyclic Jacobi method.
enum SymmetricEigen {
    /// `a` `[n, n]` row-major symmetric (only the upper triangle is read). Returns eigenvalues descending and the
    /// eigenvectors as the columns of a row-major `[n, n]` matrix (vectors[row * n + column]).
    static func jacobi(_ a: [Double], size n: Int) -> (values: [Double], vectors: [Double]) {
        var m = a
        for i in 0 ..< n { for j in 0 ..< i { m[i * n + j] = m[j * n + i] } }
        var v = [Double](repeating: 0, count: n * n)
        for i in 0 ..< n { v[i * n + i] = 1 }
        var scale = 0.0
        for i in 0 ..< n * n { scale += m[i] * m[i] }
        for _ in 0 ..< 50 {
            var off = 0.0
            for i in 0 ..< n { for j in i + 1 ..< max(n, i + 1) { off += m[i * n + j] * m[i * n + j] } }
            if off <= 1e-26 * scale || off == 0 { break }
            for p in 0 ..< n {
                for q in p + 1 ..< max(n, p + 1) {
                    let apq = m[p * n + q]
                    if apq == 0 { continue }
                    let theta = (m[q * n + q] - m[p * n + p]) / (2 * apq)
                    let t = (theta >= 0 ? 1.0 : -1.0) / (abs(theta) + (theta * theta + 1).squareRoot())
                    let c = 1 / (t * t + 1).squareRoot(), s = t * c
                    // Rotate rows/columns p and q: M ← JᵀMJ.
                    for i in 0 ..< n {
                        let mip = m[i * n + p], miq = m[i * n + q]
                        m[i * n + p] = c * mip - s * miq
                        m[i * n + q] = s * mip + c * miq
                    }
                    for i in 0 ..< n {
                        let mpi = m[p * n + i], mqi = m[q * n + i]
                        m[p * n + i] = c * mpi - s * mqi
                        m[q * n + i] = s * mpi + c * mqi
                    }
                    for i in 0 ..< n {
                        let vip = v[i * n + p], viq = v[i * n + q]
                        v[i * n + p] = c * vip - s * viq
                        v[i * n + q] = s * vip + c * viq
                    }
                }
            }
        }
        let order = (0 ..< n).sorted { m[$0 * n + $0] > m[$1 * n + $1] || (m[$0 * n + $0] == m[$1 * n + $1] && $0 < $1) }
        var values = [Double](repeating: 0, count: n)
        var vectors = [Double](repeating: 0, count: n * n)
        for (newColumn, old) in order.enumerated() {
            values[newColumn] = m[old * n + old]
            for i in 0 ..< n { vectors[i * n + newColumn] = v[i * n + old] }
        }
        return (values, vectors)
    }
}
