import Foundation
import ModelFiles
import XCTest

/// Runs the built `tinylora` binary and captures its output.
struct CLIResult {
    let status: Int32
    let stdout: String
    let stderr: String
    let seconds: Double

    var stdoutLines: [String] { stdout.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) }
    var stderrLines: [String] { stderr.split(separator: "\n", omittingEmptySubsequences: true).map(String.init) }
}

enum CLI {
    /// The `tinylora` executable: $TINYLORA_BIN, else the one in the build products directory holding this test
    /// bundle (`swift test` builds every product of the package).
    static func binary() throws -> String {
        if let p = ProcessInfo.processInfo.environment["TINYLORA_BIN"], !p.isEmpty { return p }
        var candidates: [URL] = []
        let bundle = Bundle(for: BundleMarker.self).bundleURL
        candidates.append(bundle.deletingLastPathComponent())
        candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
        for dir in candidates {
            let p = dir.appendingPathComponent("tinylora").path
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        throw CLIError("the tinylora executable was not found beside the test bundle (\(candidates.map(\.path))); run `swift build` first or set TINYLORA_BIN")
    }

    /// Runs `tinylora args...` with stdin closed; fails the test if it takes longer than `timeout` seconds.
    static func run(_ args: [String], environment: [String: String] = [:], timeout: Double = 600,
                    file: StaticString = #filePath, line: UInt = #line) throws -> CLIResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try binary())
        process.arguments = args
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        let start = Date()
        try process.run()
        // Drain stderr on another thread so neither pipe can fill up and block the child.
        let errData = LockedData()
        let errThread = Thread { errData.set(err.fileHandleForReading.readDataToEndOfFile()) }
        errThread.start()
        let timer = DispatchSource.makeTimerSource()
        timer.schedule(deadline: .now() + timeout)
        timer.setEventHandler { process.terminate() }
        timer.resume()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        timer.cancel()
        while !errData.done { usleep(1000) }
        let seconds = Date().timeIntervalSince(start)
        if process.terminationReason == .uncaughtSignal {
            XCTFail("tinylora \(args.joined(separator: " ")) was killed by signal \(process.terminationStatus) after \(Int(seconds)) s",
                    file: file, line: line)
        }
        return CLIResult(status: process.terminationStatus,
                         stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData.data, as: UTF8.self), seconds: seconds)
    }

    /// The cached path of a built-in model; fails with the fetch command to run when it is missing.
    static func modelPath(_ name: String) throws -> String {
        let store = ModelStore()
        guard let model = ModelStore.builtin(named: name) else { throw CLIError("no built-in model \(name)") }
        let path = store.path(of: model)
        guard FileManager.default.fileExists(atPath: path) else {
            throw CLIError("model file \(path) is missing: run `tinylora fetch \(name)` (scripts/test.sh does) before the tests")
        }
        return path
    }

    /// Parses one JSON object printed on stdout.
    static func jsonObject(_ result: CLIResult, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] else {
            throw CLIError("stdout is not a JSON object: \(result.stdout.prefix(200))")
        }
        return object
    }

    /// The `positions[].top` lists of a `score --json` object, as [(position, [(id, logit)])].
    static func topLogits(_ score: [String: Any]) throws -> [[(Int, Double)]] {
        let positions = try XCTUnwrap(score["positions"] as? [[String: Any]])
        return try positions.map { p in
            try XCTUnwrap(p["top"] as? [[NSNumber]]).map { ($0[0].intValue, $0[1].doubleValue) }
        }
    }
}

/// Asserts two `CLI.topLogits` results have the same top ids at every position and logits within `tolerance`.
func assertSameTop(_ a: [[(Int, Double)]], _ b: [[(Int, Double)]], tolerance: Double,
                   file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertEqual(a.count, b.count, file: file, line: line)
    for (pa, pb) in zip(a, b) {
        XCTAssertEqual(pa.map(\.0), pb.map(\.0), "top ids", file: file, line: line)
        for (x, y) in zip(pa, pb) { XCTAssertEqual(x.1, y.1, accuracy: tolerance, file: file, line: line) }
    }
}

/// Asserts the command failed cleanly: non-zero exit, nothing on stdout, exactly one stderr line starting with
/// `error: ` that contains `fragment`, and no crash report.
func assertCleanError(_ r: CLIResult, contains fragment: String, file: StaticString = #filePath, line: UInt = #line) {
    XCTAssertNotEqual(r.status, 0, "expected a non-zero exit; stdout: \(r.stdout)", file: file, line: line)
    XCTAssertEqual(r.stdout, "", "nothing should be printed on stdout", file: file, line: line)
    XCTAssertEqual(r.stderrLines.count, 1, "expected one stderr line, got: \(r.stderr)", file: file, line: line)
    XCTAssertTrue(r.stderr.hasPrefix("error: "), "stderr must start with 'error: ': \(r.stderr)", file: file, line: line)
    XCTAssertTrue(r.stderr.contains(fragment), "stderr should mention \(fragment): \(r.stderr)", file: file, line: line)
    for crash in ["Fatal error", "Stack dump", "Current stack trace", "Illegal instruction", "Segmentation"] {
        XCTAssertFalse(r.stderr.contains(crash), "crash output: \(r.stderr)", file: file, line: line)
    }
}

struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

private final class BundleMarker {}

private final class LockedData: @unchecked Sendable {
    private let lock = NSLock()
    private var value = Data()
    private var finished = false
    func set(_ d: Data) { lock.withLock { value = d; finished = true } }
    var done: Bool { lock.withLock { finished } }
    var data: Data { lock.withLock { value } }
}
