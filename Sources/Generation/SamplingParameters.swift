/// How the next token is chosen from a row of logits.
///
/// The filters are applied in the order transformers applies them (`GenerationMixin._get_logits_processor`,
/// transformers 5.x): repetition penalty, then — when sampling — temperature, top-k, top-p, min-p; then one token is
/// drawn from the softmax of what is left. Each filter is disabled by its neutral value.
///
/// Note: transformers' own `GenerationConfig` defaults to `top_k = 50`; here every filter defaults to disabled, so
/// `SamplingParameters()` is plain sampling at temperature 1.
public struct SamplingParameters: Equatable, Sendable {
    /// 0 means greedy (argmax, ties to the lowest id; no random number is consumed); otherwise logits are divided
    /// by it before the other filters. Must be finite and >= 0.
    public var temperature: Float
    /// Keep the tokens whose logit is >= the k-th largest logit (ties at the boundary are all kept, as in
    /// transformers). 0 disables. Must be >= 0.
    public var topK: Int
    /// Nucleus: keep the smallest set of most probable tokens whose total probability is >= topP (always at least
    /// one token; equal probabilities are ranked by lower id first). 1 disables. Must be in (0, 1].
    public var topP: Float
    /// Keep tokens with probability >= minP × (largest probability). 0 disables. Must be in [0, 1].
    public var minP: Float
    /// For every distinct token already in the sequence (prompt and completion), a logit l becomes l / penalty when
    /// l > 0 and l × penalty otherwise (CTRL, as transformers' `RepetitionPenaltyLogitsProcessor`). 1 disables.
    /// Must be finite and > 0. Applies to greedy decoding too.
    public var repetitionPenalty: Float

    public init(temperature: Float = 1, topK: Int = 0, topP: Float = 1, minP: Float = 0,
                repetitionPenalty: Float = 1) {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repetitionPenalty = repetitionPenalty
    }

    /// Argmax decoding.
    public static let greedy = SamplingParameters(temperature: 0)

    public var isGreedy: Bool { temperature == 0 }

    /// Throws `SamplingError.invalidParameter` naming the first bad value.
    public func validate() throws {
        guard temperature.isFinite, temperature >= 0 else {
            throw SamplingError.invalidParameter("temperature must be a finite number >= 0 (0 = greedy), got \(temperature)")
        }
        guard topK >= 0 else {
            throw SamplingError.invalidParameter("top-k must be >= 0 (0 = disabled), got \(topK)")
        }
        guard topP > 0, topP <= 1 else {
            throw SamplingError.invalidParameter("top-p must be in (0, 1] (1 = disabled), got \(topP)")
        }
        guard minP >= 0, minP <= 1 else {
            throw SamplingError.invalidParameter("min-p must be in [0, 1] (0 = disabled), got \(minP)")
        }
        guard repetitionPenalty.isFinite, repetitionPenalty > 0 else {
            throw SamplingError.invalidParameter("repetition penalty must be a finite number > 0 (1 = disabled), got \(repetitionPenalty)")
        }
    }
}

public enum SamplingError: Error, Equatable, CustomStringConvertible {
    case invalidParameter(String)
    /// The logits row has no finite maximum (all NaN / -infinity, or a +infinity).
    case invalidLogits(String)

    public var description: String {
        switch self {
        case .invalidParameter(let message): return "invalid sampling parameter: \(message)"
        case .invalidLogits(let message): return "invalid logits: \(message)"
        }
    }
}
