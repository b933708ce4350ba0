import Adapters
import Dispatch
import ModelFiles
import Numerics
import Transformer
import XCTest
#if canImport(Glibc)
import Glibc
#endif

/// CPU seconds used by this process so far (all threads).
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

/// Frozen factors of every target module of the real Qwen2.5-Coder-0.5B (24 layers × 7 = 168 modules, r = 2).
final class RealModelFactorTests: XCTestCase {
    func testQwenAllModulesTiming() throws {
        let file = try GGUFFile(path: Support.modelPath("Qwen2.5-Coder-0.5B-Instruct.gguf"))
        let config = try TransformerConfig(gguf: file)
        let weights = GGUFWeights(file: file, config: config)
        let plan = try AdapterPlan(configuration: .init(method: .tinyLoRA, rank: 2, u: 13, tying: .all), model: config)
        XCTAssertEqual(plan.modules.count, 168)

        // Dequantization alone (the SVD's input), for reference.
        BLAS.useSingleThread()
        var start = DispatchTime.now().uptimeNanoseconds
        var decoded = [Int](repeating: 0, count: plan.modules.count)
        Parallel.forEach(count: plan.modules.count, threads: 2) { i in
            let m = plan.modules[i]
            decoded[i] = (try? weights.tensor(m.tensorName, shape: m.tensorName.shape(config)))??.count ?? 0
        }
        XCTAssertEqual(decoded, plan.modules.map { $0.outFeatures * $0.inFeatures })
        let dequantSeconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9

        // SVD alone, on weights dequantized beforehand (two modules at a time, single-threaded BLAS).
        let layer0 = try plan.modules.prefix(7).map { try XCTUnwrap(weights.tensor($0.tensorName, shape: $0.tensorName.shape(config))) }
        start = DispatchTime.now().uptimeNanoseconds
        var iterations = [Int](repeating: 0, count: 7)
        Parallel.forEach(count: 7, threads: 2) { i in
            let m = plan.modules[i]
            iterations[i] = (try? TruncatedSVD.compute(layer0[i], rows: m.outFeatures, columns: m.inFeatures, rank: 2))?.iterations ?? -1
        }
        let layer0Seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        // Accuracy on these real weights (the tall and wide MLP ones take the Gram path).
        for (i, m) in plan.modules.prefix(7).enumerated() {
            try Support.checkAgainstLAPACK(layer0[i], rows: m.outFeatures, columns: m.inFeatures, rank: 2,
                                           label: "Qwen \(m)")
        }

        let cpu0 = processCPUSeconds()
        let base = try FrozenBase.build(plan: plan, model: config, weights: weights, threads: 2)
        let cpu = processCPUSeconds() - cpu0
        // On a shared machine the wall time includes waiting for other processes; CPU seconds / 2 is what two idle
        // cores would take.
        print("Qwen2.5-Coder-0.5B, 168 modules, r = 2: frozen base (dequantize + XXH64 + SVD) wall \(base.seconds) s, "
            + "CPU \(cpu) s (≈ \(cpu / 2) s on 2 idle cores); "
            + "dequantize alone \(dequantSeconds) s; layer-0 SVDs alone \(layer0Seconds) s, iterations \(iterations) "
            + "(q k v o gate up down); fingerprint \(base.fingerprint)")
        XCTAssertEqual(base.factors.count, 168)
        XCTAssertTrue(base.factors.allSatisfy { $0.a.allSatisfy(\.isFinite) && $0.b.allSatisfy(\.isFinite) })
        XCTAssertTrue(base.factors.allSatisfy { $0.singularValues[0] >= $0.singularValues[1] && $0.singularValues[1] > 0 })
    }
}

/// A native adapter file on the real SmolLM2-135M (llama GGUF: Q/K rows un-permuted by the loader).
final class RealModelAdapterFileTests: XCTestCase {
    func testSmolLM2AdapterRoundTrip() throws {
        let file = try GGUFFile(path: Support.modelPath("SmolLM2-135M-Instruct.Q4_1.gguf"))
        let config = try TransformerConfig(gguf: file)
        let weights = GGUFWeights(file: file, config: config)
        let plan = try AdapterPlan(configuration: .init(method: .tinyLoRA, rank: 2, u: 13, tying: .all, seed: 7),
                                   model: config)
        XCTAssertEqual(plan.modules.count, config.layerCount * 7)
        let base = try FrozenBase.build(plan: plan, model: config, weights: weights)
        let adapter = try Adapter(base: base, parameters: Support.gaussian(13, seed: 3))
        let path = NSTemporaryDirectory() + "smollm2-\(getpid()).tla"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try AdapterFile(adapter).write(to: path)
        XCTAssertLessThan(try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int, 1024)
        let loaded = try AdapterFile.load(path: path, model: config, weights: weights)
        XCTAssertEqual(loaded.base.fingerprint, base.fingerprint)
        XCTAssertEqual(loaded.base.factors, base.factors)
        XCTAssertEqual(loaded.parameters, adapter.parameters)
        // The Qwen model has other shapes: refused before any SVD, with the reason.
        let qwen = try TransformerConfig(gguf: GGUFFile(path: Support.modelPath("Qwen2.5-Coder-0.5B-Instruct.gguf")))
        XCTAssertThrowsError(try AdapterFile.load(path: path, model: qwen, weights: weights)) { error in
            XCTAssertTrue("\(error)".contains("was built for a model with \(config.layerCount) layers"), "\(error)")
        }
    }
}
