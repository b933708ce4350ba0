import Foundation
import XCTest

/// `tinylora train` on SmolLM2 with a tiny dataset of sums: outputs, resume after kill -9, config files, bad input.
final class TrainCLITests: TemporaryDirectoryTestCase {
    /// 40 one-digit sums; SmolLM2 gets some right and some wrong at temperature 1, so groups have reward spread.
    func sumsData() throws -> String {
        var lines: [String] = []
        for i in 0 ..< 40 {
            let a = 1 + (i * 7) % 9, b = 1 + (i * 5 + 3) % 9
            lines.append("{\"prompt\": \"What is \(a) + \(b)? Reply with just the number.\", \"answer\": \(a + b)}")
        }
        return try write("sums.jsonl", lines.joined(separator: "\n") + "\n")
    }

    func trainArguments(model: String, data: String, out: String, steps: Int = 4) -> [String] {
        ["train", "--model", model, "--data", data, "--suffix", "", "--u", "13", "--tie", "all", "--steps", "\(steps)",
         "--batch", "2", "--group", "4", "--max-tokens", "10", "--lr", "0.05", "--checkpoint-every", "1",
         "--seed", "3", "--out", out]
    }

    func metricsLines(_ out: String) throws -> [[String: Any]] {
        let text = try String(contentsOfFile: out + "/metrics.jsonl", encoding: .utf8)
        return try text.split(separator: "\n").map {
            try XCTUnwrap(JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    /// The metrics without the wall-clock fields, which differ between runs.
    func deterministicPart(_ rows: [[String: Any]]) -> [NSDictionary] {
        rows.map { row in
            var r = row
            for key in ["rollout_seconds", "backward_seconds", "tokens_per_second"] { r[key] = nil }
            return r as NSDictionary
        }
    }

    func testGRPORunWritesAdapterMetricsCheckpointsAndResumesAfterKillToTheSameAdapter() throws {
        let model = try CLI.modelPath("smollm2-135m")
        let data = try sumsData()

        // Uninterrupted run.
        let a = dir + "/a"
        let r = try CLI.run(trainArguments(model: model, data: data, out: a) + ["--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let summary = try CLI.jsonObject(r)
        XCTAssertEqual(summary["trainable_parameters"] as? Int, 13)
        XCTAssertEqual(summary["steps"] as? Int, 4)
        let adapterA = try Data(contentsOf: URL(fileURLWithPath: a + "/adapter.tla"))
        XCTAssertEqual(summary["adapter_bytes"] as? Int, adapterA.count)
        XCTAssertLessThan(adapterA.count, 1024)
        let rowsA = try metricsLines(a)
        XCTAssertEqual(rowsA.count, 4)
        XCTAssertEqual(rowsA.map { $0["step"] as? Int }, [1, 2, 3, 4])
        for key in ["reward_mean", "reward_std", "reward_correct_mean", "accuracy", "zero_spread_fraction",
                    "completion_length_mean", "truncated_fraction", "loss", "clip_ratio_region", "learning_rate",
                    "grad_norm", "rollout_seconds", "backward_seconds", "tokens_per_second"] {
            XCTAssertNotNil(rowsA[0][key], "metrics lack \(key)")
        }
        // Training did something: some step had reward spread, so the adapter moved away from zero.
        XCTAssertTrue(rowsA.contains { ($0["backward_sequences"] as? Double ?? 0) > 0 }, "no step had reward spread")
        XCTAssertGreaterThan(rowsA.last?["adapter_norm"] as? Double ?? 0, 0)
        let checkpoints = try FileManager.default.contentsOfDirectory(atPath: a + "/checkpoints").sorted()
        XCTAssertEqual(checkpoints, ["step-000002", "step-000003", "step-000004"])  // keep 3
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: a + "/checkpoints/step-000004/adapter.tla")), adapterA)

        // The same run killed (SIGKILL) once its second checkpoint exists, then resumed.
        let b = dir + "/b"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try CLI.binary())
        process.arguments = trainArguments(model: model, data: data, out: b)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(600)
        while !FileManager.default.fileExists(atPath: b + "/checkpoints/step-000002/state.json"), process.isRunning,
              Date() < deadline {
            usleep(20_000)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .uncaughtSignal, "the run finished before it could be killed")
        let resumed = try CLI.run(trainArguments(model: model, data: data, out: b) + ["--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: b + "/adapter.tla")), adapterA,
                       "the resumed run ended with another adapter than the uninterrupted one")
        XCTAssertEqual(deterministicPart(try metricsLines(b)), deterministicPart(rowsA))

        // A finished run directory is not silently overwritten.
        let again = try CLI.run(trainArguments(model: model, data: data, out: a))
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stderr.contains("already holds a training run"), again.stderr)
    }

    func testSFTRunLowersTheLossOnItsData() throws {
        let model = try CLI.modelPath("smollm2-135m")
        let data = try write("sft.jsonl", """
        {"prompt": "Say the magic word.", "completion": "Abracadabra!"}
        {"prompt": "What is the magic word?", "completion": "Abracadabra!"}
        """)
        let out = dir + "/sft"
        let r = try CLI.run(["train", "--method", "sft", "--model", model, "--data", data, "--suffix", "",
                             "--u", "13", "--tie", "all", "--steps", "6", "--batch", "2", "--lr", "0.01",
                             "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        let rows = try metricsLines(out)
        XCTAssertEqual(rows.count, 6)
        let losses = rows.compactMap { $0["loss"] as? Double }
        XCTAssertEqual(losses.count, 6)
        XCTAssertLessThan(losses.last!, losses.first!, "SFT on two examples did not lower their loss: \(losses)")
    }

    /// `--dtype bf16`: v lives in bf16 during training, not only in the saved file. The fp32 checkpoint then holds
    /// bf16 values (low 16 bits zero) equal to the saved bf16 adapter's, and the run differs from the fp32 one.
    func testBF16TrainingKeepsTheValuesInBF16() throws {
        let model = try CLI.modelPath("smollm2-135m")
        let data = try write("sft.jsonl", """
        {"prompt": "Say the magic word.", "completion": "Abracadabra!"}
        {"prompt": "What is the magic word?", "completion": "Abracadabra!"}
        """)
        func train(_ dtype: String) throws -> String {
            let out = dir + "/" + dtype
            let r = try CLI.run(["train", "--method", "sft", "--model", model, "--data", data, "--suffix", "",
                                 "--u", "13", "--tie", "all", "--steps", "3", "--batch", "2", "--lr", "0.003",
                                 "--checkpoint-every", "3", "--dtype", dtype, "--out", out])
            XCTAssertEqual(r.status, 0, r.stderr)
            return out
        }
        /// The 13 stored values: the bytes before the file's 32-byte SHA-256.
        func values(_ path: String, width: Int) throws -> [UInt32] {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            let end = bytes.count - 32, start = end - 13 * width
            return stride(from: start, to: end, by: width).map { i in
                (0 ..< width).reduce(UInt32(0)) { $0 | UInt32(bytes[i + $1]) << (8 * $1) }
            }
        }
        let bf16 = try train("bf16"), fp32 = try train("fp32")
        let saved = try values(bf16 + "/adapter.tla", width: 2)
        let checkpoint = try values(bf16 + "/checkpoints/step-000003/adapter.tla", width: 4)
        XCTAssertTrue(saved.contains { $0 != 0 }, "training did not move v")
        XCTAssertEqual(checkpoint, saved.map { $0 << 16 }, "the checkpoint's fp32 values are not the saved bf16 ones")
        let full = try values(fp32 + "/adapter.tla", width: 4)
        XCTAssertTrue(full.contains { $0 & 0xFFFF != 0 }, "fp32 training produced only bf16 values")
        XCTAssertNotEqual(full.map { ($0 >> 16) }, saved, "bf16 training equals fp32 training rounded at the end")
    }

    func testConfigFileSetsOptionsAndTheCommandLineWins() throws {
        let model = try CLI.modelPath("smollm2-135m")
        let data = try sumsData()
        let config = try write("run.yaml", """
        # a commented config
        model: \(model)
        data: \(data)
        suffix: ''
        u: 13
        tie: all
        steps: 5
        batch: 2
        group: 2
        max_tokens: 4
        """)
        let out = dir + "/cfg"
        let r = try CLI.run(["train", "--config", config, "--steps", "1", "--out", out, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let summary = try CLI.jsonObject(r)
        XCTAssertEqual(summary["steps"] as? Int, 1)  // the command line's --steps, not the file's
        XCTAssertEqual(summary["trainable_parameters"] as? Int, 13)  // from the file
        let rows = try metricsLines(out)
        XCTAssertLessThanOrEqual(rows[0]["completion_length_max"] as? Double ?? 99, 4)  // max_tokens from the file

        let bad = try write("bad.yaml", "stpes: 3\n")
        let e = try CLI.run(["train", "--config", bad, "--model", model, "--out", dir + "/x"])
        XCTAssertNotEqual(e.status, 0)
        XCTAssertTrue(e.stderr.contains("stpes") && e.stderr.contains("bad.yaml"), e.stderr)
    }

    func testDivergingTrainingStopsWithAClearErrorAndKeepsTheLastCheckpoint() throws {
        let model = try CLI.modelPath("smollm2-135m")
        let out = dir + "/diverge"
        let r = try CLI.run(trainArguments(model: model, data: try sumsData(), out: out, steps: 6)
            .map { $0 == "0.05" ? "1e30" : $0 })
        XCTAssertEqual(r.status, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("lower --lr") || r.stderr.contains("non-finite"), r.stderr)
        XCTAssertFalse(r.stderr.contains("Fatal error"), r.stderr)
        // Whatever checkpoints were written before the failure are complete and loadable.
        let checkpoints = (try? FileManager.default.contentsOfDirectory(atPath: out + "/checkpoints")) ?? []
        for c in checkpoints {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out + "/checkpoints/\(c)/manifest.json"), c)
        }
    }

    /// `--init-adapter`: training starts from the file's values (not from v = 0), and a file whose sizing differs
    /// from the run's options, or that does not exist, is refused with a message naming the option.
    func testInitAdapterStartsFromItsValuesAndMustMatchTheRunsSizing() throws {
        let model = try CLI.modelPath("smollm2-135m")
        let data = try sumsData()
        let start = dir + "/start.tla"
        let made = try CLI.run(["adapter", "init", "--model", model, "--u", "13", "--tie", "all", "--random-v",
                                "--random-scale", "0.01", "--out", start])
        XCTAssertEqual(made.status, 0, made.stderr)
        // One step at a negligible learning rate: the adapter's norm stays the start's (~0.01), where a run from
        // zeros moves only by about the learning rate.
        func firstNorm(_ out: String, _ extra: [String]) throws -> Double {
            let r = try CLI.run(["train", "--model", model, "--data", data, "--suffix", "", "--u", "13", "--tie", "all",
                                 "--steps", "1", "--batch", "2", "--group", "2", "--max-tokens", "4", "--lr", "1e-9",
                                 "--out", out] + extra)
            XCTAssertEqual(r.status, 0, r.stderr)
            return try XCTUnwrap(try metricsLines(out).first?["adapter_norm"] as? Double)
        }
        let fromStart = try firstNorm(dir + "/from-start", ["--init-adapter", start])
        let fromZero = try firstNorm(dir + "/from-zero", [])
        XCTAssertGreaterThan(fromStart, 1e-3)
        XCTAssertLessThan(fromZero, 1e-6)

        for (args, fragment) in [(["--u", "7", "--init-adapter", start], "\"u\":13"),
                                 (["--u", "13", "--init-adapter", dir + "/missing.tla"], "missing.tla")] {
            let r = try CLI.run(["train", "--model", model, "--data", data, "--tie", "all", "--steps", "1",
                                 "--out", dir + "/refused"] + args)
            XCTAssertNotEqual(r.status, 0)
            XCTAssertTrue(r.stderr.contains("--init-adapter") && r.stderr.contains(fragment), r.stderr)
            XCTAssertFalse(r.stderr.contains("Fatal error"), r.stderr)
        }
    }

    func testBadTrainingInputGetsClearErrors() throws {
        let model = try CLI.modelPath("smollm2-135m")
        let data = try sumsData()
        func expectError(_ args: [String], _ fragment: String, file: StaticString = #filePath, line: UInt = #line) throws {
            let r = try CLI.run(["train", "--model", model, "--out", dir + "/bad"] + args)
            XCTAssertNotEqual(r.status, 0, file: file, line: line)
            XCTAssertTrue(r.stderr.contains(fragment), "expected '\(fragment)' in: \(r.stderr)", file: file, line: line)
            XCTAssertFalse(r.stderr.contains("Fatal error"), r.stderr, file: file, line: line)
        }
        try expectError(["--data", data, "--group", "1"], "group size")
        try expectError(["--data", "gsm8k-test", "--group", "1"], "evaluation set")  // the warning, then the error
        try expectError(["--data", try write("empty.jsonl", "")], "empty")
        try expectError(["--data", try write("broken.jsonl", "{\"prompt\": \"a\", \"answer\": 1}\n{not json\n")], "line 2")
        try expectError(["--data", data, "--method", "sft"], "reference completion")
        try expectError(["--data", data, "--method", "ppo"], "--method")
        try expectError(["--data", data, "--loss-type", "mean"], "--loss-type")
        try expectError(["--data", data, "--lr", "nan"], "learning rate")
    }
}
