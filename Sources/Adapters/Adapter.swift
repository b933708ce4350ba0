import Numerics

/// An adapter ready to apply: the frozen base (plan, A, B, fingerprint), TinyLoRA's projections P, the trained
/// values and one `LowRankDelta` per target module (in `plan.modules` order) kept in step with them.
///
/// Trained values, flat (`parameters`):
/// - TinyLoRA: `[groups, u]` — group g's v at g·u; module m uses v of `plan.groupOfModule[m]`, `R = Σᵢ vᵢ·P_m[i]`.
/// - LoRA-XS: `[groups, r, r]` — group g's R (row-major) at g·r².
/// - LoRA: per module in order, A `[r, in]` then B `[out, r]` (offset `plan.loraOffset(module:)`); R = (α/r)·I.
public final class Adapter: @unchecked Sendable {
    public let base: FrozenBase
    /// TinyLoRA: P `[u, r, r]` per module (see `Projections.make`); empty otherwise.
    public let projections: [[Float]]
    public private(set) var parameters: [Float]
    public private(set) var deltas: [LowRankDelta]

    public var plan: AdapterPlan { base.plan }

    /// An adapter with the given trained values, or the method's initial values when nil. TinyLoRA's P come from
    /// `Projections.make` unless `projections` gives them (one `[u, r, r]` per module, e.g. read from PEFT).
    public init(base: FrozenBase, parameters: [Float]? = nil, projections given: [[Float]]? = nil) throws {
        self.base = base
        let plan = base.plan
        let c = plan.configuration
        if let given {
            guard c.method == .tinyLoRA, given.count == plan.modules.count,
                  given.allSatisfy({ $0.count == c.u * c.rank * c.rank }) else {
                throw AdapterError("projections must be one [u, r, r] = [\(c.u), \(c.rank), \(c.rank)] tensor per "
                    + "target module of a TinyLoRA adapter")
            }
            projections = given
        } else {
            projections = c.method == .tinyLoRA
                ? plan.modules.map { Projections.make(seed: c.seed, moduleIndex: $0.index, u: c.u, rank: c.rank) }
                : []
        }
        let values = parameters ?? Adapter.initialParameters(plan)
        try Adapter.check(values, plan: plan)
        self.parameters = values
        deltas = []
        for m in plan.modules {
            let r = c.rank
            let a: [Float], b: [Float]
            if c.method == .lora {
                a = [Float](repeating: 0, count: r * m.inFeatures)
                b = [Float](repeating: 0, count: m.outFeatures * r)
            } else {
                a = base.factors[m.index].a
                b = base.factors[m.index].b
            }
            deltas.append(try LowRankDelta(a: a, b: b, r: [Float](repeating: 0, count: r * r), rank: r,
                                           outFeatures: m.outFeatures, inFeatures: m.inFeatures))
        }
        refresh()
    }

    /// Replaces the trained values (count must match the plan; all finite) and updates every delta.
    public func setParameters(_ values: [Float]) throws {
        try Adapter.check(values, plan: plan)
        parameters = values
        refresh()
    }

    /// The initial trained values: TinyLoRA v = 0; LoRA-XS R ~ N(0, 1e-5²) from
    /// `Xoshiro256StarStar(seed: seed, stream: group)`; LoRA A ~ U(−1/√in, 1/√in) from
    /// `Xoshiro256StarStar(seed: seed, stream: moduleIndex)` as `(2·nextFloat() − 1)/√in`, B = 0.
    public static func initialParameters(_ plan: AdapterPlan) -> [Float] {
        let c = plan.configuration
        switch c.method {
        case .tinyLoRA:
            return [Float](repeating: 0, count: plan.trainableParameterCount)
        case .loraXS:
            var values: [Float] = []
            for g in 0 ..< plan.groupCount {
                var rng = Xoshiro256StarStar(seed: c.seed, stream: UInt64(g))
                values += rng.normalFloats(count: c.rank * c.rank, standardDeviation: 1e-5)
            }
            return values
        case .lora:
            var values: [Float] = []
            values.reserveCapacity(plan.trainableParameterCount)
            for m in plan.modules {
                var rng = Xoshiro256StarStar(seed: c.seed, stream: UInt64(m.index))
                let bound = 1 / Float(m.inFeatures).squareRoot()
                for _ in 0 ..< c.rank * m.inFeatures { values.append((2 * rng.nextFloat() - 1) * bound) }
                values += [Float](repeating: 0, count: m.outFeatures * c.rank)
            }
            return values
        }
    }

    /// The `R` `[r, r]` of module `index` for the current values.
    public func effectiveR(module index: Int) -> [Float] {
        let c = plan.configuration
        let r = c.rank
        let group = plan.groupOfModule[index]
        switch c.method {
        case .tinyLoRA:
            var result = [Float](repeating: 0, count: r * r)
            let p = projections[index]
            for i in 0 ..< c.u {
                let vi = parameters[group * c.u + i]
                for e in 0 ..< r * r { result[e] += vi * p[i * r * r + e] }
            }
            return result
        case .loraXS:
            return Array(parameters[group * r * r ..< (group + 1) * r * r])
        case .lora:
            var result = [Float](repeating: 0, count: r * r)
            for i in 0 ..< r { result[i * r + i] = c.alpha / Float(r) }
            return result
        }
    }

    private func refresh() {
        let c = plan.configuration
        for m in plan.modules {
            let d = deltas[m.index]
            d.r = effectiveR(module: m.index)
            if c.method == .lora {
                let start = plan.loraOffset(module: m.index)
                let aCount = c.rank * m.inFeatures, bCount = m.outFeatures * c.rank
                d.setFactors(a: Array(parameters[start ..< start + aCount]),
                             b: Array(parameters[start + aCount ..< start + aCount + bCount]))
            }
        }
    }

    static func check(_ values: [Float], plan: AdapterPlan) throws {
        guard values.count == plan.trainableParameterCount else {
            throw AdapterError("\(values.count) trained values, but this \(plan.configuration.method) adapter has "
                + "\(plan.trainableParameterCount)")
        }
        if let i = values.firstIndex(where: { !$0.isFinite }) {
            throw AdapterError("trained value \(i) is not finite (\(values[i]))")
        }
    }
}
