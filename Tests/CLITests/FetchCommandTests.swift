import Foundation
import ModelFiles
import XCTest

final class FetchCommandTests: XCTestCase {
    /// `fetch` prints the model's path as its last stdout line; once the file is cached and stamped, a second run
    /// downloads and hashes nothing (no status output) and leaves the file untouched.
    func testFetchPrintsPathLastAndSecondRunIsANoOp() throws {
        for name in ["smollm2-135m", "qwen2.5-coder-0.5b"] {
            let path = try CLI.modelPath(name)
            let first = try CLI.run(["fetch", name])
            XCTAssertEqual(first.status, 0, first.stderr)
            XCTAssertEqual(first.stdoutLines.last, path)
            let before = try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date

            let second = try CLI.run(["fetch", name])
            XCTAssertEqual(second.status, 0, second.stderr)
            XCTAssertEqual(second.stdoutLines.last, path)
            XCTAssertEqual(second.stderr, "", "a second fetch must be silent")
            XCTAssertLessThan(second.seconds, 10)
            let after = try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date
            XCTAssertEqual(before, after)
            XCTAssertTrue(FileManager.default.fileExists(atPath: path + ".sha256"))
        }
    }

    func testFetchListNamesBothModels() throws {
        let r = try CLI.run(["fetch", "--list"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdoutLines.map { $0.split(separator: "\t").first.map(String.init) ?? "" },
                       ["smollm2-135m", "qwen2.5-coder-0.5b", "gsm8k-test"])
    }

    func testUnknownModelName() throws {
        assertCleanError(try CLI.run(["fetch", "gpt-17"]), contains: "unknown model gpt-17")
    }

    /// TINYLORA_HOME moves the cache: `fetch --list` reports paths under it.
    func testCacheHonoursTINYLORA_HOME() throws {
        let home = FileManager.default.temporaryDirectory.appendingPathComponent("tl-home-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: home) }
        let r = try CLI.run(["fetch", "--list"], environment: ["TINYLORA_HOME": home])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdoutLines.allSatisfy {
            ($0.contains(home + "/models/") || $0.contains(home + "/data/")) && $0.hasSuffix("not fetched")
        }, r.stdout)
    }
}

final class HelpTests: XCTestCase {
    /// `--help` of the tool and of every subcommand prints usage on stdout and exits 0 (never an `error:` line).
    func testHelpOfEveryCommand() throws {
        let root = try CLI.run(["--help"])
        XCTAssertEqual(root.status, 0, root.stderr)
        for command in ["fetch", "info", "tokenize", "score", "generate", "bench", "plan", "merge", "export", "eval",
                        "train", "plot", "demo"] {
            XCTAssertTrue(root.stdout.contains("  \(command) "), "root help lists \(command)")
            let r = try CLI.run([command, "--help"])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stdout.contains("USAGE: tinylora \(command)"), r.stdout)
            XCTAssertFalse(r.stderr.contains("error:"))
        }
    }

    func testUsageErrorsExitNonZero() throws {
        let r = try CLI.run(["score", "--model", "smollm2-135m"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("give exactly one of --text, --text-file, --messages, --ids"), r.stderr)
    }
}
