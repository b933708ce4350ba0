import Numerics

/// The frozen factors of one target module: `A = diag(√s)·Vᵀ` `[r, in]`, `B = U·diag(√s)` `[out, r]` from the
/// top-r truncated SVD `W ≈ U·diag(s)·Vᵀ` (PEFT's TinyLoRA convention; see `TruncatedSVD` for the algorithm and
/// the sign convention that makes them unique).
public struct ModuleFactors: Sendable, Equatable {
    public let rank: Int
    public let outFeatures: Int
    public let inFeatures: Int
    /// `[r, in]`.
    public let a: [Float]
    /// `[out, r]`.
    public let b: [Float]
    public let singularValues: [Float]

    public init(_ svd: TruncatedSVD) {
        let r = svd.rank
        let root = svd.singularValues.map { $0.squareRoot() }
        var a = svd.vt
        for j in 0 ..< r { for i in 0 ..< svd.columns { a[j * svd.columns + i] *= root[j] } }
        var b = svd.u
        for o in 0 ..< svd.rows { for j in 0 ..< r { b[o * r + j] *= root[j] } }
        self.a = a
        self.b = b
        rank = r
        outFeatures = svd.rows
        inFeatures = svd.columns
        singularValues = svd.singularValues
    }

    /// Factors given directly (e.g. read from a PEFT adapter): `a` `[r, in]`, `b` `[out, r]`; `singularValues` may
    /// be empty when unknown.
    public init(rank: Int, outFeatures: Int, inFeatures: Int, a: [Float], b: [Float], singularValues: [Float] = []) throws {
        guard rank >= 1, a.count == rank * inFeatures, b.count == outFeatures * rank else {
            throw AdapterError("factors have \(a.count) + \(b.count) values, expected A [\(rank), \(inFeatures)] "
                + "and B [\(outFeatures), \(rank)]")
        }
        self.rank = rank
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        self.a = a
        self.b = b
        self.singularValues = singularValues
    }
}

/// TinyLoRA's fixed random projections.
public enum Projections {
    /// `P` `[u, r, r]` of the module with index `moduleIndex` (its position among the targets in model order):
    /// `Xoshiro256StarStar(seed: seed, stream: moduleIndex).fillNormal(standardDeviation: 1/√r)` filling P
    /// row-major (P[i][j][k] at i·r² + j·r + k), so every entry is N(0, 1/r).
    public static func make(seed: UInt64, moduleIndex: Int, u: Int, rank r: Int) -> [Float] {
        var rng = Xoshiro256StarStar(seed: seed, stream: UInt64(moduleIndex))
        return rng.normalFloats(count: u * r * r, standardDeviation: 1 / Float(r).squareRoot())
    }
}
