import Dispatch
import Foundation
import Numerics
import Transformer

/// What an adapter needs from its base model, computed once: the plan, the frozen SVD factors of every target
/// module (TinyLoRA and LoRA-XS; none for LoRA) and the base fingerprint.
public struct FrozenBase: Sendable {
    public let plan: AdapterPlan
    /// One per module (same order as `plan.modules`); empty for LoRA.
    public let factors: [ModuleFactors]
    public let fingerprint: BaseFingerprint
    /// Wall-clock seconds spent building (loading + SVD + hashing).
    public let seconds: Double

    public init(plan: AdapterPlan, factors: [ModuleFactors], fingerprint: BaseFingerprint, seconds: Double = 0) throws {
        if plan.configuration.method != .lora {
            guard factors.count == plan.modules.count else {
                throw AdapterError("\(factors.count) factor sets for \(plan.modules.count) target modules")
            }
            for (f, m) in zip(factors, plan.modules) {
                guard f.rank == plan.configuration.rank, f.outFeatures == m.outFeatures, f.inFeatures == m.inFeatures
                else { throw AdapterError("factors of \(m) have the wrong shape") }
            }
        }
        self.plan = plan
        self.factors = factors
        self.fingerprint = fingerprint
        self.seconds = seconds
    }

    /// Loads each target weight `[out, in]` (HF layout) with `weight`, hashes it and (unless LoRA) computes its
    /// truncated SVD; `threads` modules are processed at a time with single-threaded BLAS.
    public static func build(plan: AdapterPlan, threads: Int = 2, svdOptions: TruncatedSVD.Options = .init(),
                             weight: (TargetModule) throws -> [Float]) throws -> FrozenBase {
        let start = DispatchTime.now().uptimeNanoseconds
        BLAS.useSingleThread()
        let n = plan.modules.count
        let needSVD = plan.configuration.method != .lora
        var digests = [[UInt8]](repeating: [], count: n)
        var factors = [ModuleFactors?](repeating: nil, count: n)
        var errors = [Error?](repeating: nil, count: n)
        let lock = NSLock()
        withoutActuallyEscaping(weight) { weight in
            Parallel.forEach(count: n, threads: threads) { i in
                let m = plan.modules[i]
                do {
                    let w = try weight(m)
                    guard w.count == m.outFeatures * m.inFeatures else {
                        throw AdapterError("\(m): weight has \(w.count) values, expected [\(m.outFeatures), \(m.inFeatures)]")
                    }
                    let (digest, f): ([UInt8], ModuleFactors?) = try w.withUnsafeBufferPointer { p in
                        let d = BaseFingerprint.digest(of: p)
                        guard needSVD else { return (d, nil) }
                        let svd = try TruncatedSVD.compute(p.baseAddress!, rows: m.outFeatures, columns: m.inFeatures,
                                                           rank: plan.configuration.rank, options: svdOptions)
                        return (d, ModuleFactors(svd))
                    }
                    lock.lock()
                    digests[i] = digest
                    factors[i] = f
                    lock.unlock()
                } catch {
                    lock.lock()
                    errors[i] = error
                    lock.unlock()
                }
            }
        }
        if let i = errors.firstIndex(where: { $0 != nil }) {
            throw AdapterError("\(plan.modules[i]): \(errors[i]!)")
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return try FrozenBase(plan: plan, factors: needSVD ? factors.map { $0! } : [],
                              fingerprint: BaseFingerprint.combine(plan.modules, digests: digests), seconds: seconds)
    }

    /// The same, reading the weights from a model's weight source (GGUF or safetensors, dequantized to fp32).
    public static func build(plan: AdapterPlan, model: TransformerConfig, weights: WeightSource, threads: Int = 2,
                             svdOptions: TruncatedSVD.Options = .init()) throws -> FrozenBase {
        try build(plan: plan, threads: threads, svdOptions: svdOptions) { m in
            let name = m.tensorName
            guard let w = try weights.tensor(name, shape: name.shape(model)) else {
                throw AdapterError("the base model has no tensor \(name.huggingFace)")
            }
            return w
        }
    }
}
