/// How target modules share trained values ("weight tying"). Modules are numbered in model order (layer 0: q, k, v,
/// o, gate, up, down among the targets; then layer 1; ...); each module belongs to one group; a group holds one v
/// (TinyLoRA) or one R (LoRA-XS).
public enum Tying: Equatable, Sendable, CustomStringConvertible {
    /// One group per module.
    case none
    /// Tiled (`--tie-every N`): group(idx) = idx div N; ⌈modules / N⌉ groups.
    case tiled(Int)
    /// `--tie all`: a single group.
    case all
    /// PEFT's `weight_tying` ratio wt ∈ [0, 1] (tiled): G = max(1, round(N·(1 − wt))) with round-half-to-even like
    /// Python's `round`, size = max(1, N div G), group(idx) = min(idx div size, G − 1).
    case ratio(Double)
    /// Structured (by module type): modules of the same kind in N consecutive targeted layers share a group (key:
    /// kind and (layer − first layer) div N). Groups are numbered in order of first appearance in model order.
    case structured(Int)

    /// The `structured` layer count that means "all targeted layers" (any count at least this large reads as
    /// plain "structured").
    public static let allLayers = Int(Int32.max)

    /// "none", "tiled(N)", "all", "ratio(X)", "structured(N)" (N consecutive layers per group) or "structured"
    /// (all targeted layers).
    public var description: String {
        switch self {
        case .none: "none"
        case .tiled(let n): "tiled(\(n))"
        case .all: "all"
        case .ratio(let x): "ratio(\(x))"
        case .structured(let n): n >= Self.allLayers ? "structured" : "structured(\(n))"
        }
    }

    public func validate() throws {
        switch self {
        case .none, .all: break
        case .tiled(let n), .structured(let n):
            guard n >= 1 else { throw AdapterError("tie size \(n) must be ≥ 1") }
        case .ratio(let x):
            guard x.isFinite, x >= 0, x <= 1 else { throw AdapterError("weight tying ratio \(x) must be in [0, 1]") }
        }
    }

    /// The group of each module (`modules` in model order) and the number of groups.
    public func groups(of modules: [TargetModule], firstLayer: Int) -> (groupOfModule: [Int], count: Int) {
        let n = modules.count
        guard n > 0 else { return ([], 0) }
        switch self {
        case .none:
            return (Array(0 ..< n), n)
        case .all:
            return ([Int](repeating: 0, count: n), 1)
        case .tiled(let size):
            return ((0 ..< n).map { $0 / size }, (n + size - 1) / size)
        case .ratio(let wt):
            let g = max(1, Int((Double(n) * (1.0 - wt)).rounded(.toNearestOrEven)))
            let size = max(1, n / g)
            return ((0 ..< n).map { min($0 / size, g - 1) }, g)
        case .structured(let layersPerGroup):
            var ids: [String: Int] = [:]
            var result: [Int] = []
            for m in modules {
                let key = "\(m.kind.rawValue)/\((m.layer - firstLayer) / layersPerGroup)"
                if ids[key] == nil { ids[key] = ids.count }
                result.append(ids[key]!)
            }
            return (result, ids.count)
        }
    }
}

extension Tying {
    /// The tying of the command-line flags: `--tie all|N` (tiled), `--weight-tying RATIO` (PEFT), `--structured N`;
    /// at most one of them; none given means untied.
    public init(tie: String?, weightTying: Double?, structured: Int?) throws {
        let given = [tie != nil, weightTying != nil, structured != nil].filter { $0 }.count
        guard given <= 1 else { throw AdapterError("give at most one of --tie, --weight-tying and --structured") }
        if let tie {
            if tie.lowercased() == "all" {
                self = .all
            } else if let n = Int(tie), n >= 1 {
                self = .tiled(n)
            } else {
                throw AdapterError("--tie takes 'all' or a positive number of modules, not '\(tie)'")
            }
        } else if let weightTying {
            self = .ratio(weightTying)
        } else if let structured {
            self = .structured(structured)
        } else {
            self = .none
        }
        try validate()
    }
}
