/// A reward: a number for one completion of one example (higher is better).
public protocol RewardFunction: Sendable {
    /// The name in specs and metrics ("correct", "format").
    var name: String { get }
    func reward(completion: String, example: Example) -> Double
}

/// True when `extracted` matches `gold`: equal exact values when both are numbers (see `NumericAnswer`), else equal
/// normalized text (lowercase, spaces collapsed, final period dropped). A missing extraction never matches.
public func answerMatches(_ extracted: ExtractedAnswer?, gold: String) -> Bool {
    guard let extracted else { return false }
    let goldValue = NumericAnswer(parsing: gold)
    if let goldValue, let value = extracted.value { return value == goldValue }
    if goldValue != nil { return false }
    return AnswerText.normalizedText(AnswerText.plain(extracted.text)) == AnswerText.normalizedText(AnswerText.plain(gold))
}

/// Exact match: 1 when the completion's extracted answer (`extractAnswer`) equals the example's gold answer, else
/// 0 (also 0 when the example has no gold answer).
public struct ExactMatchReward: RewardFunction {
    public let name = "correct"
    public init() {}

    public func reward(completion: String, example: Example) -> Double {
        guard let gold = example.goldAnswer else { return 0 }
        return answerMatches(extractAnswer(completion), gold: gold) ? 1 : 0
    }
}

/// Format: 1 when the completion states its answer the way the prompt asks, i.e. its last `####` is followed on
/// the same line by a number; else 0. Independent of correctness.
public struct FormatReward: RewardFunction {
    public let name = "format"
    public init() {}

    public func reward(completion: String, example: Example) -> Double {
        guard let tail = AnswerText.afterLast("####", in: completion),
              NumberScanner.numbers(in: AnswerText.plain(tail)).first?.value != nil else { return 0 }
        return 1
    }
}

/// Each reward function's value for one completion, and their weighted sum.
public struct RewardBreakdown: Sendable, Equatable {
    /// Σ weight_i · value_i.
    public var total: Double
    /// (name, unweighted value), in the order of the terms.
    public var values: [RewardValue]

    public init(total: Double, values: [RewardValue]) {
        self.total = total
        self.values = values
    }
}

public struct RewardValue: Sendable, Equatable {
    public var name: String
    public var value: Double

    public init(name: String, value: Double) {
        self.name = name
        self.value = value
    }
}

/// A weighted sum of named reward functions: reward = Σ weight_i · f_i(completion, example).
public struct WeightedReward: RewardFunction {
    public struct Term: Sendable {
        public var function: any RewardFunction
        public var weight: Double

        public init(_ function: any RewardFunction, weight: Double = 1) {
            self.function = function
            self.weight = weight
        }
    }

    public let name = "reward"
    public var terms: [Term]

    public init(_ terms: [Term]) {
        self.terms = terms
    }

    /// The default reward: exact match only (the paper's).
    public static let standard = WeightedReward([Term(ExactMatchReward())])

    /// The built-in reward functions by name.
    public static let builtins: [String: any RewardFunction] = ["correct": ExactMatchReward(), "format": FormatReward()]

    /// Parses `name[=weight],...`, e.g. `correct`, `correct,format=0.1`, `correct=1,format=0.25`. Names: correct,
    /// format. Weights are finite numbers; a name appears at most once.
    public static func parse(_ spec: String) throws -> WeightedReward {
        var terms: [Term] = []
        var names = Set<String>()
        let known = builtins.keys.sorted().joined(separator: ", ")
        for item in spec.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = parts[0].trimmingCharacters(in: .whitespaces)
            guard let function = builtins[name] else {
                throw TaskError("reward \"\(spec)\": unknown reward function \"\(name)\" (known: \(known))")
            }
            var weight = 1.0
            if parts.count == 2 {
                guard let w = Double(parts[1].trimmingCharacters(in: .whitespaces)), w.isFinite else {
                    throw TaskError("reward \"\(spec)\": the weight of \(name) must be a finite number, not \"\(parts[1])\"")
                }
                weight = w
            }
            guard names.insert(name).inserted else { throw TaskError("reward \"\(spec)\": \(name) is given twice") }
            terms.append(Term(function, weight: weight))
        }
        return WeightedReward(terms)
    }

    /// "correct=1,format=0.1" (weights in shortest form).
    public var spec: String {
        terms.map { "\($0.function.name)=\($0.weight)" }.joined(separator: ",")
    }

    public func evaluate(completion: String, example: Example) -> RewardBreakdown {
        var total = 0.0
        var values: [RewardValue] = []
        for term in terms {
            let v = term.function.reward(completion: completion, example: example)
            values.append(RewardValue(name: term.function.name, value: v))
            total += term.weight * v
        }
        return RewardBreakdown(total: total, values: values)
    }

    public func reward(completion: String, example: Example) -> Double {
        evaluate(completion: completion, example: example).total
    }
}
