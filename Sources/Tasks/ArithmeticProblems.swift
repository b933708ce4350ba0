/// The built-in generator of GSM-style multi-step arithmetic word problems with exact positive integer answers.
///
/// Spec (for `--data` and `Dataset.load`): `arith` or `arith:key=value,key=value...` with keys
/// - `n`: number of problems (default 500);
/// - `seed`: generator seed (default 0);
/// - `split`: `train` or `test` (default `train`);
/// - `steps`: operations per problem, a number `2` or a range `1-3` (default `1-3`, each problem draws its count
///   uniformly); 1...8;
/// - `max`: largest operand drawn (default 20; 2...1000). Multipliers and counts stay in 2...min(9, max).
///
/// Each problem comes from a story template: fixed shapes for 1-4 steps (shopping, change, sharing, baking,
/// rates, ages, reading, saving) and a "chain" template for any step count (a collection that grows, shrinks,
/// doubles or is split). A third of the problems, and every problem with more steps than the fixed shapes
/// cover, are chains. The completion is a worked solution (one calculation per line) ending with `#### answer`.
///
/// Determinism and splits: problems are drawn from the xoshiro256** stream (seed, 0 for train / 1 for test), so a
/// spec always gives the same problems on every machine. A question belongs to the test split if and only if the
/// FNV-1a 64-bit hash of its text is divisible by 8 (`isTestQuestion`); candidates of the other split are
/// skipped. The train and test splits are therefore disjoint whatever their seeds and sizes. Duplicate questions
/// within one dataset are skipped too.
public enum ArithmeticProblems {
    public enum Split: String, Sendable, Equatable { case train, test }

    public struct Settings: Sendable, Equatable {
        public var count = 500
        public var seed: UInt64 = 0
        public var split = Split.train
        public var steps: ClosedRange<Int> = 1 ... 3
        public var maxOperand = 20

        public init(count: Int = 500, seed: UInt64 = 0, split: Split = .train, steps: ClosedRange<Int> = 1 ... 3,
                    maxOperand: Int = 20) {
            self.count = count
            self.seed = seed
            self.split = split
            self.steps = steps
            self.maxOperand = maxOperand
        }

        /// The canonical spec, e.g. `arith:n=500,seed=0,split=train,steps=1-3,max=20`.
        public var spec: String {
            let s = steps.lowerBound == steps.upperBound ? "\(steps.lowerBound)" : "\(steps.lowerBound)-\(steps.upperBound)"
            return "arith:n=\(count),seed=\(seed),split=\(split.rawValue),steps=\(s),max=\(maxOperand)"
        }
    }

    public static let name = "arith"
    public static let maxSteps = 8

    /// True when `spec` names this generator (`arith` or `arith:...`).
    public static func matches(_ spec: String) -> Bool {
        spec == name || spec.hasPrefix(name + ":")
    }

    /// Parses `arith[:key=value,...]`.
    public static func parse(_ spec: String) throws -> Settings {
        guard matches(spec) else { throw TaskError("\(spec) is not an arith spec (arith or arith:key=value,...)") }
        var settings = Settings()
        let body = spec.dropFirst(name.count + (spec.count > name.count ? 1 : 0))
        guard !body.isEmpty || spec == name else { throw TaskError("\(spec): nothing after \"arith:\"") }
        for item in body.split(separator: ",", omittingEmptySubsequences: false) where !body.isEmpty {
            let kv = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard kv.count == 2, !kv[0].isEmpty else {
                throw TaskError("\(spec): \"\(item)\" is not key=value (keys: n, seed, split, steps, max)")
            }
            let key = kv[0].trimmingCharacters(in: .whitespaces), value = kv[1].trimmingCharacters(in: .whitespaces)
            switch key {
            case "n":
                guard let n = Int(value), n >= 1, n <= 1_000_000 else { throw TaskError("\(spec): n must be in 1...1000000, not \(value)") }
                settings.count = n
            case "seed":
                guard let s = UInt64(value) else { throw TaskError("\(spec): seed must be a non-negative integer, not \(value)") }
                settings.seed = s
            case "split":
                guard let s = Split(rawValue: value) else { throw TaskError("\(spec): split must be train or test, not \(value)") }
                settings.split = s
            case "steps":
                let parts = value.split(separator: "-", omittingEmptySubsequences: false)
                guard (1 ... 2).contains(parts.count), let lo = Int(parts[0]), let hi = Int(parts.last!),
                      1 <= lo, lo <= hi, hi <= maxSteps else {
                    throw TaskError("\(spec): steps must be a number or a range a-b within 1...\(maxSteps), not \(value)")
                }
                settings.steps = lo ... hi
            case "max":
                guard let m = Int(value), m >= 2, m <= 1000 else { throw TaskError("\(spec): max must be in 2...1000, not \(value)") }
                settings.maxOperand = m
            default:
                throw TaskError("\(spec): unknown key \"\(key)\" (keys: n, seed, split, steps, max)")
            }
        }
        return settings
    }

    /// The problems of `settings`, as a dataset named by the canonical spec (ids `arith-<split>-<seed>-<i>`).
    public static func dataset(_ settings: Settings, prompt: PromptFormat = .standard) throws -> Dataset {
        let problems = try generate(settings)
        let examples = problems.enumerated().map { i, p in
            Example(id: "arith-\(settings.split.rawValue)-\(settings.seed)-\(i)", messages: prompt.messages(question: p.question),
                    completion: p.solution, goldAnswer: String(p.answer))
        }
        return Dataset(name: settings.spec, examples: examples)
    }

    /// The problems, in order. Throws when the settings cannot give `count` distinct problems.
    static func generate(_ settings: Settings) throws -> [WordProblem] {
        var random = ProblemRandom(seed: settings.seed, stream: settings.split == .train ? 0 : 1)
        var seen = Set<String>()
        var out: [WordProblem] = []
        out.reserveCapacity(settings.count)
        // About 1 in 8 candidates belongs to the test split; this many misses in a row means the space is used up.
        let missLimit = 20_000
        var misses = 0
        while out.count < settings.count {
            let problem = draw(&random, settings: settings)
            guard isTestQuestion(problem.question) == (settings.split == .test), !seen.contains(problem.question) else {
                misses += 1
                guard misses < missLimit else {
                    throw TaskError("\(settings.spec): found only \(out.count) distinct problems (then \(missLimit) candidates in a row were repeats or belonged to the other split); ask for fewer (n) or widen max or steps")
                }
                continue
            }
            misses = 0
            seen.insert(problem.question)
            out.append(problem)
        }
        return out
    }

    /// One candidate problem.
    static func draw(_ random: inout ProblemRandom, settings: Settings) -> WordProblem {
        let steps = random.int(settings.steps)
        if let shapes = WordProblemTemplates.fixed[steps], !random.chance(1, in: 3) {
            let (_, make) = random.pick(shapes)
            return make(&random, settings.maxOperand)
        }
        return WordProblemTemplates.chain(&random, steps: steps, max: settings.maxOperand)
    }

    /// The split rule: FNV-1a 64 of the question's UTF-8 bytes, divisible by 8.
    public static func isTestQuestion(_ question: String) -> Bool {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in question.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return hash % 8 == 0
    }
}
