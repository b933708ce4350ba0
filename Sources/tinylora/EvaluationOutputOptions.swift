import ArgumentParser
import Foundation
import Training

/// `--out` and `--json`: where `eval` and `grade` write their per-item results and summary, and how they print it.
struct EvaluationOutputOptions: ParsableArguments {
    @Option(help: "A directory for results.jsonl and summary.json (created if missing).")
    var out: String?

    @Flag(help: "Print {\"accuracy\":a,\"n\":n,\"ci95\":[lo,hi]} instead of the readable summary.")
    var json = false

    /// Creates --out (or checks it is a writable directory) so that a bad path fails before any work.
    func prepare() throws {
        guard let path = out else { return }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw CLIError("--out \(path) exists and is not a directory") }
        } else {
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            } catch {
                throw CLIError("cannot create the output directory \(path): \((error as NSError).localizedDescription)")
            }
        }
        guard access(path, W_OK) == 0 else { throw CLIError("--out \(path) is not writable") }
    }

    /// Writes the report's files to --out (with `extra` summary fields) and prints the JSON line or the readable
    /// summary (`printEvaluationSummary`, with `truncation` and `timed`).
    func emit(_ report: EvaluationReport, extra: [(String, String)], truncation: String, timed: Bool) throws {
        if let out { try report.write(to: out, extra: extra) }
        if json {
            print(report.accuracyJSON)
        } else {
            printEvaluationSummary(report, truncation: truncation, timed: timed, out: out)
        }
    }
}
