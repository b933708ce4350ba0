import Foundation

/// A training run's output directory (`--out DIR`): `DIR/metrics.jsonl` and `DIR/checkpoints/`, kept
/// consistent with each other for `--resume`.
///
///     let run = try RunDirectory(url: dir, keep: 3)
///     var metrics = try run.start(overwrite: false)          // or: guard let r = try run.resume() ...
///     ... metrics.append(record) every step ...
///     try run.saveCheckpoint(state: state, files: ["adapter.tla": bytes, "optimizer.json": opt], metrics: metrics)
///
/// A checkpoint's `state.json` records how many metrics lines existed when it was saved (after they were flushed
/// to disk); `resume` cuts the metrics file back to that many lines.
public struct RunDirectory: Sendable {
    public let url: URL
    public let checkpoints: CheckpointStore

    public var metricsURL: URL { url.appendingPathComponent("metrics.jsonl") }

    /// Creates `url` if needed.
    public init(url: URL, keep: Int = 3) throws {
        self.url = url
        checkpoints = CheckpointStore(runDirectory: url, keep: keep)
        do {
            try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        } catch {
            throw CheckpointError("cannot create the run directory \(url.path): \((error as NSError).localizedDescription)")
        }
    }

    /// Starts a new run: an empty metrics file. A directory that already holds checkpoints is refused unless
    /// `overwrite` (then they are removed).
    public func start(overwrite: Bool) throws -> MetricsLog {
        let existing = try checkpoints.stepDirectories()
        if !existing.isEmpty {
            guard overwrite else {
                throw CheckpointError("\(url.path) already holds a run (\(existing.last!.url.lastPathComponent)); "
                    + "resume it with --resume or choose another output directory")
            }
            do {
                try FileManager.default.removeItem(at: checkpoints.directory)
            } catch {
                throw CheckpointError("cannot remove the old checkpoints in \(checkpoints.directory.path): \((error as NSError).localizedDescription)")
            }
        }
        return try MetricsLog(url: metricsURL)
    }

    /// The state of the newest good checkpoint, its files and the metrics log reopened at its line count; nil
    /// when the directory has no checkpoint. `checkpoint.skipped` lists newer checkpoints that failed
    /// verification (tell the user).
    public func resume() throws -> (checkpoint: LoadedCheckpoint, state: CheckpointState, metrics: MetricsLog)? {
        guard let checkpoint = try checkpoints.latest() else { return nil }
        let state = try checkpoint.json(CheckpointState.self, CheckpointState.fileName)
        guard state.step == checkpoint.step else {
            throw CheckpointError("checkpoint \(checkpoint.directory.path): \(CheckpointState.fileName) says step \(state.step)")
        }
        let metrics = try MetricsLog(url: metricsURL, keepingLines: state.metricsLines)
        return (checkpoint, state, metrics)
    }

    /// Flushes the metrics, records their line count in `state` and saves `files` plus `state.json` as the
    /// checkpoint of `state.step`. Returns the checkpoint directory.
    @discardableResult
    public func saveCheckpoint(state: CheckpointState, files: [String: Data], metrics: MetricsLog) throws -> URL {
        try metrics.sync()
        var state = state
        state.metricsLines = metrics.lineCount
        var all = files
        all[CheckpointState.fileName] = try state.jsonData()
        return try checkpoints.save(step: state.step, files: all)
    }
}
