import Foundation
import XCTest

/// `--weights fp32|bf16` of bench, generate, eval, train and demo: bad values are usage errors naming the accepted
/// ones; bf16 runs for real where the CPU has AVX-512 BF16.
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
                XCTAssertTrue(r.stderr.contains("unknown weight format '\(bad)': use one of fp32, bf16"),
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
        let r = try CLI.run(["bench", "--model", "smollm2-135m", "--batch", "3", "--prompt-tokens", "9",
                             "--new-tokens", "5", "--weights", "bf16", "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = try CLI.jsonObject(r)
        XCTAssertEqual(json["weights"] as? String, "bf16")
        XCTAssertGreaterThan(try XCTUnwrap(json["decode_tokens_per_s"] as? Double), 0)
        XCTAssertGreaterThan(try XCTUnwrap(json["pack_seconds"] as? Double), 0)
    }
}
