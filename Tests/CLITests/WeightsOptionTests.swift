import Foundation
import XCTest

/// `--weights fp32|bf16|native` of bench, generate, eval, train and demo: bad values are usage errors naming the
/// accepted ones; bf16 runs for real where the CPU has AVX-512 BF16; native runs for real from the GGUF blocks
/// (forward passes only: `--backward-weights native` and `bench --backward --weights native` are usage errors).
final class WeightsOptionTests: TemporaryDirectoryTestCase {
    static var cpuHasBF16: Bool {
        ((try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? "").contains("avx512_bf16")
    }

    func testBadWeightsValueIsAUsageErrorNamingTheFormats() throws {
        let commands: [[String]] = [
            ["bench", "--model", "smollm2-135m"],
            ["generate", "--model", "smollm2-135m", "--text", "hi"],
            ["eval", "--model", "smollm2-135m", "--data", "arith:n=2"],
            ["train", "--model", "smollm2-135m", "--out", dir + "/run"],
            ["demo", "--out", dir + "/demo"],
        ]
        for command in commands {
            for bad in ["bf17", "FP32", "q4_0", ""] {
                let r = try CLI.run(command + ["--weights", bad])
                XCTAssertNotEqual(r.status, 0, "\(command[0]) --weights '\(bad)'")
                XCTAssertEqual(r.stdout, "", "\(command[0]) --weights '\(bad)'")
                XCTAssertTrue(r.stderr.contains("unknown weight format '\(bad)': use one of fp32, bf16, native"),
                              "\(command[0]) --weights '\(bad)': \(r.stderr)")
                XCTAssertFalse(r.stderr.contains("Fatal error"), r.stderr)
            }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/run"), "nothing is written on a usage error")
    }

    func testSFTRefusesBF16Rollouts() throws {
        guard Self.cpuHasBF16 else { throw XCTSkip("this CPU has no AVX-512 BF16 (avx512_bf16)") }
        assertCleanError(try CLI.run(["train", "--model", "smollm2-135m", "--method", "sft", "--weights", "bf16",
                                      "--out", dir + "/run"]), contains: "SFT has none")
    }

    func testBenchRunsFromBF16Weights() throws {
        guard Self.cpuHasBF16 else { throw XCTSkip("this CPU has no AVX-512 BF16 (avx512_bf16)") }
        let json = try benchJSON(weights: "bf16")
        XCTAssertGreaterThan(try XCTUnwrap(json["pack_seconds"] as? Double), 0)
    }

    /// A short `bench --json` run of SmolLM2 from `weights`: it succeeds, names the weights and decodes.
    func benchJSON(weights: String, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let r = try CLI.run(["bench", "--model", "smollm2-135m", "--batch", "3", "--prompt-tokens", "9",
                             "--new-tokens", "5", "--weights", weights, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
        let json = try CLI.jsonObject(r)
        XCTAssertEqual(json["weights"] as? String, weights, file: file, line: line)
        XCTAssertGreaterThan(try XCTUnwrap(json["decode_tokens_per_s"] as? Double), 0, file: file, line: line)
        return json
    }

    /// An unknown value, and native (the backward cannot run from the blocks), are usage errors.
    func testBadBackwardWeightsValueIsAUsageError() throws {
        for command in [["train", "--model", "smollm2-135m", "--out", dir + "/run"], ["demo", "--out", dir + "/demo"]] {
            for (value, fragment) in [("bf17", "bf16"), ("native", "native: the quantized blocks serve forward passes only")] {
                let r = try CLI.run(command + ["--backward-weights", value])
                XCTAssertNotEqual(r.status, 0)
                XCTAssertEqual(r.stdout, "")
                XCTAssertTrue(r.stderr.contains("--backward-weights") && r.stderr.contains(fragment), r.stderr)
            }
        }
    }

    /// `train` arguments for a short GRPO run of SmolLM2 on one-digit sums (it gets some right at temperature 1,
    /// so groups have reward spread), written to the temporary directory.
    func grpoArguments(steps: Int, maxTokens: Int, out: String) throws -> [String] {
        let lines = (0 ..< 40).map { i -> String in
            let a = 1 + (i * 7) % 9, b = 1 + (i * 5 + 3) % 9
            return "{\"prompt\": \"What is \(a) + \(b)? Reply with just the number.\", \"answer\": \(a + b)}"
        }
        let data = try write("sums.jsonl", lines.joined(separator: "\n") + "\n")
        return ["train", "--model", "smollm2-135m", "--data", data, "--suffix", "", "--u", "13", "--tie", "all",
                "--steps", "\(steps)", "--batch", "2", "--group", "4", "--max-tokens", "\(maxTokens)", "--lr", "0.05",
                "--seed", "3", "--out", out, "--json"]
    }

    /// Three GRPO steps with bf16 rollouts and a bf16 backward: a finite gradient moves the adapter, and the run
    /// leaves its adapter and metrics like an fp32 one.
    func testGRPORunsWithBF16Backward() throws {
        guard Self.cpuHasBF16 else { throw XCTSkip("this CPU has no AVX-512 BF16 (avx512_bf16)") }
        let out = dir + "/bf16run"
        let r = try CLI.run(try grpoArguments(steps: 3, maxTokens: 10, out: out)
            + ["--weights", "bf16", "--backward-weights", "bf16"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let text = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8)
        let rows = try text.split(separator: "\n").map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        XCTAssertEqual(rows.count, 3)
        let norms = rows.compactMap { $0["grad_norm"] as? Double }
        XCTAssertTrue(norms.allSatisfy(\.isFinite), "\(norms)")
        XCTAssertGreaterThan(try XCTUnwrap(rows.last?["adapter_norm"] as? Double), 0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/adapter.tla"))
    }

    func testBenchGenerateAndEvalRunFromNativeWeights() throws {
        let json = try benchJSON(weights: "native")
        XCTAssertGreaterThan(try XCTUnwrap(json["peak_rss_mb"] as? Double), 0)

        let fp32 = try CLI.run(["generate", "--model", "smollm2-135m", "--text", "What is 2+3?", "--chat",
                                "--max-tokens", "12", "--weights", "fp32"])
        let native = try CLI.run(["generate", "--model", "smollm2-135m", "--text", "What is 2+3?", "--chat",
                                  "--max-tokens", "12", "--weights", "native"])
        XCTAssertEqual(native.status, 0, native.stderr)
        XCTAssertEqual(native.stdout, fp32.stdout, "greedy text from the blocks (batch 1: exact fp32 products of the decoded weights)")

        let eval = try CLI.run(["eval", "--model", "smollm2-135m", "--data", "arith:n=2", "--max-tokens", "8",
                                "--weights", "native", "--json"])
        XCTAssertEqual(eval.status, 0, eval.stderr)
        XCTAssertNotNil(try CLI.jsonObject(eval)["accuracy"] as? Double)
    }

    func testNativeIsForwardOnlyAndNeedsGGUF() throws {
        let backward = try CLI.run(["bench", "--model", "smollm2-135m", "--backward", "--weights", "native"])
        XCTAssertNotEqual(backward.status, 0)
        XCTAssertTrue(backward.stderr.contains("--weights native") && backward.stderr.contains("fp32 or bf16"), backward.stderr)

        let hf = dir + "/hf"
        try FileManager.default.createDirectory(atPath: hf, withIntermediateDirectories: true)
        _ = try write("hf/config.json", "{}")
        assertCleanError(try CLI.run(["bench", "--model", hf, "--weights", "native"]), contains: "--weights native needs a GGUF model")
    }

    /// Two GRPO steps with rollouts sampled from the blocks and the fp32 backward.
    func testGRPORunsWithNativeRollouts() throws {
        let out = dir + "/nativerun"
        let r = try CLI.run(try grpoArguments(steps: 2, maxTokens: 8, out: out) + ["--weights", "native"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let text = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8)
        XCTAssertEqual(text.split(separator: "\n").count, 2)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/adapter.tla"))
    }
}
