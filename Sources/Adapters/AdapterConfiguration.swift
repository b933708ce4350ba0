import Numerics

/// The adapter methods (see docs/TINYLORA.md). Every method adds `ΔW = B·R·A` to a target weight `W` `[out, in]`
/// with `A` `[r, in]`, `R` `[r, r]`, `B` `[out, r]`:
/// - `tinyLoRA`: A = diag(√s)·Vᵀ and B = U·diag(√s) from the top-r SVD of W (frozen); R = Σᵢ vᵢ·Pᵢ with P `[u, r, r]`
///   frozen (entries N(0, 1/r)) and v `[u]` trained (zeros at start), one v per tying group.
/// - `loraXS`: the same frozen A, B; R `[r, r]` trained, one R per tying group. R starts at N(0, 1e-5²) entries as in
///   the LoRA-XS authors' code (`init_module_weights(..., sigma=1e-5)`), drawn from
///   `Xoshiro256StarStar(seed: seed, stream: group)` row-major.
/// - `lora`: A and B trained per module, R = (α/r)·I. A starts Kaiming-uniform as PEFT
///   (`kaiming_uniform_(a=√5)` on `[r, in]`: U(−1/√in, 1/√in)), drawn from `Xoshiro256StarStar(seed: seed,
///   stream: moduleIndex)` as `(2·nextFloat() − 1)/√in` row-major; B starts at zero.
public enum AdapterMethod: UInt8, CaseIterable, Sendable, CustomStringConvertible {
    case tinyLoRA = 1
    case loraXS = 2
    case lora = 3

    public var description: String {
        switch self {
        case .tinyLoRA: "tinylora"
        case .loraXS: "loraxs"
        case .lora: "lora"
        }
    }

    public init(parsing text: String) throws {
        switch text.lowercased() {
        case "tinylora": self = .tinyLoRA
        case "loraxs", "lora-xs", "lora_xs": self = .loraXS
        case "lora": self = .lora
        default: throw AdapterError("unknown adapter kind '\(text)' (expected tinylora, loraxs or lora)")
        }
    }
}

/// Storage type of the trained values in an adapter file.
public enum ParameterDType: UInt8, CaseIterable, Sendable, CustomStringConvertible {
    case fp32 = 0
    case bf16 = 1
    case fp16 = 2

    public var byteWidth: Int { self == .fp32 ? 4 : 2 }

    /// `x` as a value of this type holds it (round to nearest even, exactly as an adapter file stores it); fp32
    /// returns `x`. fp16 overflows to ±infinity.
    public func rounded(_ x: Float) -> Float {
        switch self {
        case .fp32: x
        case .bf16: Half.bf16ToFloat(Half.floatToBF16(x))
        case .fp16: Half.f16ToFloat(Half.floatToF16(x))
        }
    }

    public var description: String {
        switch self {
        case .fp32: "fp32"
        case .bf16: "bf16"
        case .fp16: "fp16"
        }
    }

    public init(parsing text: String) throws {
        guard let t = ParameterDType.allCases.first(where: { $0.description == text.lowercased() }) else {
            throw AdapterError("unknown parameter type '\(text)' (expected fp32, bf16 or fp16)")
        }
        self = t
    }
}

/// Everything that defines an adapter's shape and its frozen tensors (besides the base model).
public struct AdapterConfiguration: Equatable, Sendable {
    public var method: AdapterMethod
    /// r: the rank of A, B and the size of R.
    public var rank: Int
    /// u: the length of each trained v (TinyLoRA only).
    public var u: Int
    /// α of LoRA (scale α/r); unused by the other methods.
    public var alpha: Float
    public var tying: Tying
    /// Seeds P (TinyLoRA), the initial R (LoRA-XS) or the initial A (LoRA).
    public var seed: UInt64
    /// Targeted projections, in model order.
    public var targets: [ModuleKind]
    /// Targeted layers; nil means all layers of the model.
    public var layers: Range<Int>?
    /// How trained values are stored in a file.
    public var parameterDType: ParameterDType

    public init(method: AdapterMethod, rank: Int = 2, u: Int = 1, alpha: Float? = nil, tying: Tying = .none,
                seed: UInt64 = 42, targets: [ModuleKind] = ModuleKind.allCases, layers: Range<Int>? = nil,
                parameterDType: ParameterDType = .fp32) {
        self.method = method
        self.rank = rank
        self.u = u
        self.alpha = alpha ?? Float(rank)
        self.tying = tying
        self.seed = seed
        self.targets = Array(Set(targets)).sorted()
        self.layers = layers
        self.parameterDType = parameterDType
    }

    /// Checks the values that do not depend on the model.
    public func validate() throws {
        guard rank >= 1, rank <= 64 else { throw AdapterError("rank r = \(rank) must be in 1...64") }
        if method == .tinyLoRA {
            guard u >= 1, u <= 1 << 20 else { throw AdapterError("u = \(u) must be in 1...\(1 << 20)") }
        }
        if method == .lora {
            guard alpha.isFinite, alpha != 0 else { throw AdapterError("LoRA alpha must be finite and non-zero") }
            guard tying == .none else { throw AdapterError("LoRA adapters cannot be tied (A and B differ in shape)") }
        }
        guard !targets.isEmpty else { throw AdapterError("no target modules") }
        try tying.validate()
    }
}
