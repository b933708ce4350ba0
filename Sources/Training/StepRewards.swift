/// The scalar reward of each completion in a GRPO step, from its task reward and its length.
///
///     r_i = (truncated_i && truncatedReward != nil ? truncatedReward : task_i) + overlongWeight · R_length(|y_i|)
///
/// `task_i` is the weighted reward functions' value, `R_length` DAPO's soft overlong punishment
/// (`SoftOverlongPunishment`, only when `overlongBuffer` > 0). All arrays are `[P·G]`, prompt-major.
public enum StepRewards {
    /// (rewards, overlong penalties or nil when the punishment is off).
    public static func combine(taskRewards: [Double], tokenCounts: [Int], truncated: [Bool],
                               settings s: TrainingSettings) -> (rewards: [Float], overlong: [Double]?) {
        let overlong = s.overlongPunishment.map { p in tokenCounts.map { p.penalty(length: $0) } }
        let rewards = taskRewards.indices.map { i in
            let task = truncated[i] ? s.truncatedReward ?? taskRewards[i] : taskRewards[i]
            return Float(task + s.overlongWeight * (overlong?[i] ?? 0))
        }
        return (rewards, overlong)
    }
}
