import Foundation
import ModelFiles
import XCTest

/// `plan`, `adapter init`, `adapter info` and `--adapter` on score/generate, running the binary on the real models.
final class AdapterCommandTests: TemporaryDirectoryTestCase {
    func plan(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let r = try CLI.run(["plan", "--model", try CLI.modelPath("qwen2.5-coder-0.5b")] + args + ["--json"])
        XCTAssertEqual(r.status, 0, r.stderr, file: file, line: line)
        return try CLI.jsonObject(r)
    }

    func int(_ object: [String: Any], _ key: String) -> Int? { (object[key] as? NSNumber)?.intValue }

    // MARK: plan

    func testPlanCountsOnQwen() throws {
        let cases: [([String], Int, Int)] = [  // flags, trainable parameters, groups
            (["--kind", "tinylora", "--u", "13", "--tie", "all"], 13, 1),
            (["--kind", "tinylora", "--u", "1", "--tie", "all"], 1, 1),
            (["--kind", "loraxs", "--r", "2"], 672, 168),
            (["--kind", "tinylora", "--u", "1"], 168, 168),
            (["--kind", "tinylora", "--u", "2", "--tie", "7"], 48, 24),
            (["--kind", "tinylora", "--u", "1", "--structured"], 7, 7),
        ]
        for (flags, parameters, groups) in cases {
            let p = try plan(flags)
            XCTAssertEqual(int(p, "trainable_parameters"), parameters, "\(flags)")
            XCTAssertEqual(int(p, "groups"), groups, "\(flags)")
            XCTAssertEqual(int(p, "modules"), 168, "\(flags)")
            XCTAssertEqual(int(p, "bytes_fp32"), 4 * parameters, "\(flags)")
            XCTAssertEqual(int(p, "bytes_bf16"), 2 * parameters, "\(flags)")
            XCTAssertEqual(int(p, "bytes_fp16"), 2 * parameters, "\(flags)")
            XCTAssertEqual(p["targets"] as? [String], ["q", "k", "v", "o", "gate", "up", "down"])
            let lists = try XCTUnwrap(p["group_modules"] as? [[String]])
            XCTAssertEqual(lists.count, groups)
            XCTAssertEqual(lists.map(\.count).reduce(0, +), 168)
        }
        // Structured: the first group holds every layer's q.
        let structured = try XCTUnwrap(try plan(["--structured"])["group_modules"] as? [[String]])
        XCTAssertEqual(structured[0], (0 ..< 24).map { "layers.\($0).q" })
        let perFour = try plan(["--structured", "--structured-layers", "4"])
        XCTAssertEqual(int(perFour, "groups"), 7 * 6)
    }

    func testPlanTargetsLayersAndLoRA() throws {
        let p = try plan(["--kind", "tinylora", "--targets", "q,v", "--layers", "2-5"])
        XCTAssertEqual(int(p, "modules"), 8)
        XCTAssertEqual(p["targets"] as? [String], ["q", "v"])
        XCTAssertEqual((p["layers"] as? [Int]), [2, 6])
        XCTAssertEqual((p["group_modules"] as? [[String]])?.first, ["layers.2.q"])
        // LoRA r=1 on q of layer 0: r·(in + out) = 896 + 896.
        let lora = try plan(["--kind", "lora", "--r", "1", "--targets", "q", "--layers", "0"])
        XCTAssertEqual(int(lora, "trainable_parameters"), 896 + 896)
    }

    func testPlanReadsNoWeights() throws {
        let r = try CLI.run(["plan", "--model", try CLI.modelPath("qwen2.5-coder-0.5b"), "--u", "13", "--tie", "all"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertLessThan(r.seconds, 5, "plan should only read the configuration")
        XCTAssertTrue(r.stdout.contains("trainable parameters  13"), r.stdout)
    }

    func testPlanBadFlags() throws {
        let model = try CLI.modelPath("qwen2.5-coder-0.5b")
        let cases: [([String], String)] = [
            (["--u", "0"], "u = 0"),
            (["--targets", "q,zz"], "unknown target module 'zz'"),
            (["--weight-tying", "1.5"], "ratio 1.5"),
            (["--tie", "none"], "--tie takes 'all'"),
            (["--tie", "all", "--weight-tying", "0.5"], "at most one"),
            (["--kind", "dora"], "unknown adapter kind 'dora'"),
            (["--r", "0"], "rank r = 0"),
            (["--layers", "20-30"], "outside the model's 24 layers"),
            (["--layers", "5-2"], "--layers takes"),
            (["--kind", "lora", "--tie", "all"], "cannot be tied"),
        ]
        for (flags, fragment) in cases {
            assertCleanError(try CLI.run(["plan", "--model", model] + flags + ["--json"]), contains: fragment)
        }
    }

    // MARK: adapter init / info / --adapter

    func initAdapter(_ name: String, model: String = "smollm2-135m", _ flags: [String]) throws -> String {
        let path = dir + "/" + name
        let r = try CLI.run(["adapter", "init", "--model", try CLI.modelPath(model)] + flags + ["--out", path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, path + "\n")
        return path
    }

    func score(_ extra: [String], model: String = "smollm2-135m") throws -> CLIResult {
        try CLI.run(["score", "--model", try CLI.modelPath(model), "--text", "The capital of France is",
                     "--top-k", "5", "--last", "2", "--json"] + extra)
    }

    func testTinyAdapterFileInfoAndScore() throws {
        let zero = try initAdapter("zero.tla", ["--u", "13", "--tie", "all", "--seed", "7"])
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: zero)[.size] as? NSNumber).intValue
        XCTAssertLessThan(size, 1024, "a 13-parameter adapter file must be under 1 KiB")

        let info = try CLI.run(["adapter", "info", zero, "--json"])
        XCTAssertEqual(info.status, 0, info.stderr)
        let header = try CLI.jsonObject(info)
        XCTAssertEqual(header["method"] as? String, "tinylora")
        XCTAssertEqual(int(header, "u"), 13)
        XCTAssertEqual(int(header, "r"), 2)
        XCTAssertEqual(int(header, "seed"), 7)
        XCTAssertEqual(header["tying"] as? String, "all")
        XCTAssertEqual(header["dtype"] as? String, "fp32")
        XCTAssertEqual(int(header, "trainable_parameters"), 13)
        XCTAssertEqual(int(header, "modules"), 30 * 7)
        XCTAssertEqual(int(header, "file_bytes"), size)
        XCTAssertEqual((header["fingerprint"] as? String)?.count, 64)
        let text = try CLI.run(["adapter", "info", zero])
        XCTAssertTrue(text.stdout.contains("trainable parameters  13"), text.stdout)

        // v = 0: exactly the base model's output. Random v: different logits.
        let base = try score([])
        XCTAssertEqual(base.status, 0, base.stderr)
        let withZero = try score(["--adapter", zero])
        XCTAssertEqual(withZero.status, 0, withZero.stderr)
        XCTAssertEqual(withZero.stdout, base.stdout)
        let random = try initAdapter("random.tla", ["--u", "13", "--tie", "all", "--random-v", "--seed", "3"])
        let withRandom = try score(["--adapter", random])
        XCTAssertEqual(withRandom.status, 0, withRandom.stderr)
        XCTAssertNotEqual(withRandom.stdout, base.stdout)
        XCTAssertEqual(try CLI.jsonObject(withRandom)["ids"] as? [Int], try CLI.jsonObject(base)["ids"] as? [Int])

        // tokenize ignores --adapter (even a missing file); generate applies it.
        let t0 = try CLI.run(["tokenize", "--model", try CLI.modelPath("smollm2-135m"), "--text", "Hello", "--json"])
        let t1 = try CLI.run(["tokenize", "--model", try CLI.modelPath("smollm2-135m"), "--text", "Hello", "--json",
                              "--adapter", dir + "/no-such-file.tla"])
        XCTAssertEqual(t0.status, 0, t0.stderr)
        XCTAssertEqual(t1.stdout, t0.stdout)
        let g0 = try CLI.run(["generate", "--model", try CLI.modelPath("smollm2-135m"), "--text", "Hello",
                              "--max-tokens", "4", "--json"])
        let g1 = try CLI.run(["generate", "--model", try CLI.modelPath("smollm2-135m"), "--text", "Hello",
                              "--max-tokens", "4", "--json", "--adapter", zero])
        XCTAssertEqual(g1.status, 0, g1.stderr)
        XCTAssertEqual(g1.stdout, g0.stdout)
    }

    func testAdapterRefusedOnOtherBase() throws {
        let path = try initAdapter("smol.tla", ["--u", "1", "--tie", "all"])
        assertCleanError(try score(["--adapter", path], model: "qwen2.5-coder-0.5b"), contains: "built for a model with 30 layers")

        // Same shapes, different weights: change the stored fingerprint and re-seal the checksum.
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[136] ^= 0xFF
        let body = Array(bytes[..<(bytes.count - 32)])
        bytes = body + SHA256.hash(body)
        let other = dir + "/other-base.tla"
        try Data(bytes).write(to: URL(fileURLWithPath: other))
        assertCleanError(try score(["--adapter", other]), contains: "different base weights")
    }

    func testCorruptAdapterFiles() throws {
        let path = try initAdapter("good.tla", ["--u", "13", "--tie", "all"])
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        var flipped = bytes
        flipped[170] ^= 0x01
        let files: [(String, [UInt8], String)] = [
            ("truncated.tla", Array(bytes.prefix(100)), "truncated"),
            ("short.tla", Array(bytes.dropLast(4)), "truncated"),
            ("flipped.tla", flipped, "checksum"),
            ("magic.tla", Array("NOTADAPT".utf8) + bytes.dropFirst(8), "bad magic"),
            ("empty.tla", [], "not a TinyLoRA adapter file"),
        ]
        let model = try CLI.modelPath("smollm2-135m")
        for (name, content, fragment) in files {
            let p = dir + "/" + name
            try Data(content).write(to: URL(fileURLWithPath: p))
            assertCleanError(try CLI.run(["adapter", "info", p]), contains: fragment)
            assertCleanError(try CLI.run(["score", "--model", model, "--ids", "1,2", "--adapter", p]), contains: fragment)
        }
        assertCleanError(try CLI.run(["adapter", "info", dir + "/missing.tla"]), contains: "missing.tla")
        assertCleanError(try CLI.run(["generate", "--model", model, "--text", "x", "--adapter", dir + "/missing.tla"]),
                         contains: "missing.tla")
    }

    func testInitDTypesAndBadFlags() throws {
        let bf16 = try initAdapter("bf16.tla", ["--u", "13", "--tie", "all", "--dtype", "bf16", "--random-std", "0.5"])
        let header = try CLI.jsonObject(try CLI.run(["adapter", "info", bf16, "--json"]))
        XCTAssertEqual(header["dtype"] as? String, "bf16")
        let model = try CLI.modelPath("smollm2-135m")
        let out = dir + "/x.tla"
        assertCleanError(try CLI.run(["adapter", "init", "--model", model, "--dtype", "fp8", "--out", out]), contains: "fp8")
        assertCleanError(try CLI.run(["adapter", "init", "--model", model, "--random-std=-1", "--out", out]),
                         contains: "--random-std")
        assertCleanError(try CLI.run(["adapter", "init", "--model", model, "--u", "0", "--out", out]), contains: "u = 0")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }
}
