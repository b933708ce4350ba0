/// How group-relative advantages are scaled (TRL `scale_rewards`).
public enum RewardScaling: String, Codable, CaseIterable, Sendable {
    /// Divide by the standard deviation of the prompt's own group (TRL `"group"`, the default).
    case group
    /// Divide by the standard deviation of the whole batch (TRL `"batch"`); the mean is still the group's.
    case batch
    /// No division: `A = r − mean_group` (TRL `"none"`, Dr. GRPO).
    case none
}

/// Group-relative advantages of a rollout batch, as TRL's `GRPOTrainer` computes them (`sum_then_normalize`).
///
/// Rewards `r` `[P·G]` are laid out prompt-major: completions `p·G ..< (p+1)·G` are the G samples of prompt p.
///
///     mean_p = (1/G)·Σ_{i in group p} r_i
///     std_p  = sqrt( Σ_{i in group p} (r_i − mean_p)² / (G − 1) )        (unbiased, Bessel-corrected, like torch)
///     std_B  = sqrt( Σ_i (r_i − mean_B)² / (P·G − 1) )                    (whole batch, for `.batch`)
///     A_i    = (r_i − mean_p) / (s_i + ε)      with s_i = std_p (`.group`) or std_B (`.batch`)
///     A_i    = r_i − mean_p                    (`.none`)
///
/// ε = 1e-4 in TRL. A group has zero reward spread when `std_p ≤ 1e-8` (torch.isclose(std, 0) with its default
/// atol); those groups have A = 0 and give no policy gradient. Note: TRL logs `frac_reward_zero_std` from the
/// std it divides by, so under `.batch` it reports a single batch-wide flag; `zeroSpreadFraction` here is always
/// the fraction of groups (the number the metrics need).
public struct Advantages: Equatable, Sendable {
    /// `[P·G]`, prompt-major like the rewards.
    public let values: [Float]
    /// `[P]`: each group's mean reward.
    public let groupMeans: [Double]
    /// `[P]`: each group's unbiased standard deviation.
    public let groupStandardDeviations: [Double]
    /// Fraction of the P groups whose rewards are all equal (std ≤ 1e-8).
    public let zeroSpreadFraction: Double

    /// Computes advantages for `rewards` `[P·G]` with `groupSize` G ≥ 2. Throws on an empty batch, a count not a
    /// multiple of G, G < 2, or a non-finite reward.
    public init(rewards: [Float], groupSize: Int, scaling: RewardScaling = .group, epsilon: Double = 1e-4) throws {
        guard groupSize >= 2 else {
            throw TrainingMathError("advantages: the group size (samples per prompt) must be at least 2, not \(groupSize)")
        }
        guard !rewards.isEmpty else { throw TrainingMathError("advantages: no rewards") }
        guard rewards.count % groupSize == 0 else {
            throw TrainingMathError("advantages: \(rewards.count) rewards is not a multiple of the group size \(groupSize)")
        }
        if let i = rewards.firstIndex(where: { !$0.isFinite }) {
            throw TrainingMathError("advantages: reward \(i) is not finite (\(rewards[i]))")
        }
        guard epsilon >= 0, epsilon.isFinite else { throw TrainingMathError("advantages: ε must be finite and ≥ 0") }
        let r = rewards.map(Double.init)
        let groups = r.count / groupSize
        var means: [Double] = [], stds: [Double] = []
        for p in 0 ..< groups {
            let g = r[p * groupSize ..< (p + 1) * groupSize]
            let (mean, std) = Advantages.meanAndUnbiasedStd(g)
            means.append(mean)
            stds.append(std)
        }
        let batchStd = Advantages.meanAndUnbiasedStd(r[...]).std
        values = r.indices.map { i in
            let p = i / groupSize
            let centred = r[i] - means[p]
            switch scaling {
            case .group: return Float(centred / (stds[p] + epsilon))
            case .batch: return Float(centred / (batchStd + epsilon))
            case .none: return Float(centred)
            }
        }
        groupMeans = means
        groupStandardDeviations = stds
        zeroSpreadFraction = Double(stds.filter { $0 <= 1e-8 }.count) / Double(groups)
    }

    /// Mean and Bessel-corrected standard deviation (n ≥ 2) in Double.
    static func meanAndUnbiasedStd(_ x: ArraySlice<Double>) -> (mean: Double, std: Double) {
        let n = Double(x.count)
        let mean = x.reduce(0, +) / n
        let squares = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) }
        return (mean, (squares / (n - 1)).squareRoot())
    }
}
