import Foundation
import ModelFiles
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Checkpoints of a training run, one directory per saved step:
///
///     DIR/checkpoints/step-000040/
///         manifest.json     {"format":"tinylora-checkpoint","version":1,"step":40,
///                            "files":[{"name":"adapter.tlra","bytes":1234,"sha256":"<64 hex>"}, ...]}
///         adapter.tlra      (the payload files, any names; the store does not interpret them)
///         state.json
///
/// Saving writes every file into a fresh temporary directory beside the step directories (`.tmp-...`),
/// fsyncs each file, writes the manifest last, fsyncs the directory and renames it into place; only then are
/// old checkpoints pruned to the newest `keep`. A failed write (a full disk) removes the temporary directory
/// and leaves every existing checkpoint as it was. Loading checks each file's size and SHA-256 against the
/// manifest and falls back to the next older checkpoint when one is incomplete or corrupt, saying which.
public struct CheckpointStore: Sendable {
    /// Writes one file durably: its bytes reach the disk before this returns. Throws on any failure.
    public typealias FileWriter = @Sendable (_ data: Data, _ url: URL) throws -> Void

    /// The `checkpoints` directory.
    public let directory: URL
    /// How many checkpoints to keep (at least 1).
    public let keep: Int
    let writeFile: FileWriter

    public static let manifestName = "manifest.json"

    /// A store in `directory` (created on the first save). `writeFile` is replaceable for fault-injection tests.
    public init(directory: URL, keep: Int = 3, writeFile: @escaping FileWriter = CheckpointStore.durableWrite) {
        self.directory = directory
        self.keep = max(1, keep)
        self.writeFile = writeFile
    }

    /// The store of a run directory: `runDirectory/checkpoints`.
    public init(runDirectory: URL, keep: Int = 3) {
        self.init(directory: runDirectory.appendingPathComponent("checkpoints"), keep: keep)
    }

    /// The directory name of a step: `step-000040` (at least six digits).
    public static func directoryName(step: Int) -> String {
        let digits = String(step)
        return "step-" + String(repeating: "0", count: max(0, 6 - digits.count)) + digits
    }

    // MARK: - Saving

    /// Saves `files` (name → bytes) as the checkpoint of `step` and prunes old checkpoints; returns its
    /// directory. Names are plain file names (no `/`, not starting with `.`, not `manifest.json`). Existing
    /// checkpoints of this or later steps (left by a run that was resumed from an earlier one) are replaced.
    @discardableResult
    public func save(step: Int, files: [String: Data]) throws -> URL {
        guard step >= 0 else { throw CheckpointError("cannot save a checkpoint for step \(step) (steps start at 0)") }
        for name in files.keys { try Self.checkName(name) }
        let fm = FileManager.default
        do {
            try fm.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch {
            throw CheckpointError("cannot create the checkpoint directory \(directory.path): \(Self.reason(error))")
        }
        removeTemporaryDirectories()
        let final = directory.appendingPathComponent(Self.directoryName(step: step))
        let temp = directory.appendingPathComponent(".tmp-\(Self.directoryName(step: step))-\(getpid())-\(UInt32.random(in: 0 ... .max))")
        do {
            try fm.createDirectory(at: temp, withIntermediateDirectories: false)
        } catch {
            throw CheckpointError("cannot create \(temp.path): \(Self.reason(error))")
        }
        do {
            var entries: [String] = []
            for name in files.keys.sorted() {
                let data = files[name]!
                try writeFile(data, temp.appendingPathComponent(name))
                let digest = data.withUnsafeBytes { SHA256.hex(SHA256.hash($0)) }
                entries.append("{\"name\":\(JSONText.quoted(name)),\"bytes\":\(data.count),\"sha256\":\"\(digest)\"}")
            }
            let manifest = "{\"format\":\"tinylora-checkpoint\",\"version\":1,\"step\":\(step),\"files\":[\n"
                + entries.joined(separator: ",\n") + "\n]}\n"
            try writeFile(Data(manifest.utf8), temp.appendingPathComponent(Self.manifestName))
            try Self.syncDirectory(temp)
            try install(temp, at: final)
        } catch {
            try? fm.removeItem(at: temp)
            throw CheckpointError("cannot save the checkpoint of step \(step) in \(directory.path): \(Self.reason(error)); "
                + "the previous checkpoints are unchanged")
        }
        prune(newest: step)
        return final
    }

    /// Renames the complete temporary directory to its final name; an existing directory of that name (a
    /// stale checkpoint of the same step) is moved aside first and removed only after the rename.
    private func install(_ temp: URL, at final: URL) throws {
        var aside: URL?
        if FileManager.default.fileExists(atPath: final.path) {
            let a = directory.appendingPathComponent(".tmp-replaced-\(final.lastPathComponent)-\(getpid())")
            try? FileManager.default.removeItem(at: a)
            guard rename(final.path, a.path) == 0 else { throw CheckpointError("cannot move \(final.path) aside: \(Self.errnoText())") }
            aside = a
        }
        guard rename(temp.path, final.path) == 0 else {
            let message = Self.errnoText()
            if let aside { _ = rename(aside.path, final.path) }
            throw CheckpointError("cannot rename \(temp.path) to \(final.path): \(message)")
        }
        try Self.syncDirectory(directory)
        if let aside { try? FileManager.default.removeItem(at: aside) }
    }

    /// Keeps the `keep` newest checkpoints up to `newest` and removes later ones (superseded by a resumed run).
    private func prune(newest: Int) {
        let steps = (try? stepDirectories()) ?? []
        for (step, url) in steps where step > newest {
            try? FileManager.default.removeItem(at: url)
        }
        let older = steps.filter { $0.step <= newest }.sorted { $0.step > $1.step }
        for (_, url) in older.dropFirst(keep) {
            try? FileManager.default.removeItem(at: url)
        }
    }

    /// Removes temporary directories left by an interrupted save.
    private func removeTemporaryDirectories() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        for name in names where name.hasPrefix(".tmp-") {
            try? FileManager.default.removeItem(at: directory.appendingPathComponent(name))
        }
    }

    // MARK: - Loading

    /// The saved checkpoints' steps and directories, oldest first (complete or not).
    public func stepDirectories() throws -> [(step: Int, url: URL)] {
        guard FileManager.default.fileExists(atPath: directory.path) else { return [] }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw CheckpointError("cannot list \(directory.path): \(Self.reason(error))")
        }
        var out: [(Int, URL)] = []
        for name in names where name.hasPrefix("step-") {
            if let step = Int(name.dropFirst(5)), step >= 0 { out.append((step, directory.appendingPathComponent(name))) }
        }
        return out.sorted { $0.0 < $1.0 }
    }

    /// The newest checkpoint whose files match its manifest, or nil when there is none at all. Newer ones that
    /// fail the check are listed in `skipped` with the reason. Throws when checkpoints exist but none is good.
    public func latest() throws -> LoadedCheckpoint? {
        let all = try stepDirectories()
        if all.isEmpty { return nil }
        var skipped: [LoadedCheckpoint.Skipped] = []
        for (step, url) in all.reversed() {
            do {
                let files = try Self.load(url, expectedStep: step)
                return LoadedCheckpoint(step: step, directory: url, files: files, skipped: skipped)
            } catch {
                skipped.append(.init(step: step, directory: url, reason: Self.reason(error)))
            }
        }
        throw CheckpointError("no usable checkpoint in \(directory.path): "
            + skipped.map { "\($0.directory.lastPathComponent): \($0.reason)" }.joined(separator: "; "))
    }

    /// Reads and verifies one checkpoint directory.
    public static func load(_ url: URL, expectedStep: Int? = nil) throws -> [String: Data] {
        let manifestURL = url.appendingPathComponent(manifestName)
        guard let manifestData = try? Data(contentsOf: manifestURL) else {
            throw CheckpointError("\(manifestName) is missing or unreadable (incomplete checkpoint)")
        }
        let manifest: Manifest
        do {
            manifest = try JSONDecoder().decode(Manifest.self, from: manifestData)
        } catch {
            throw CheckpointError("\(manifestName) is not a valid manifest")
        }
        guard manifest.format == "tinylora-checkpoint", manifest.version == 1 else {
            throw CheckpointError("\(manifestName) has format \(manifest.format) version \(manifest.version), expected tinylora-checkpoint version 1")
        }
        if let expectedStep, manifest.step != expectedStep {
            throw CheckpointError("\(manifestName) says step \(manifest.step), the directory name says \(expectedStep)")
        }
        var files: [String: Data] = [:]
        for entry in manifest.files {
            try checkName(entry.name)
            guard let data = try? Data(contentsOf: url.appendingPathComponent(entry.name)) else {
                throw CheckpointError("\(entry.name) is missing or unreadable")
            }
            guard data.count == entry.bytes else {
                throw CheckpointError("\(entry.name) has \(data.count) bytes, the manifest says \(entry.bytes) (truncated)")
            }
            let digest = data.withUnsafeBytes { SHA256.hex(SHA256.hash($0)) }
            guard digest == entry.sha256 else { throw CheckpointError("\(entry.name) does not match its SHA-256 in the manifest (corrupt)") }
            files[entry.name] = data
        }
        return files
    }

    private struct Manifest: Decodable {
        struct File: Decodable { let name: String; let bytes: Int; let sha256: String }
        let format: String
        let version: Int
        let step: Int
        let files: [File]
    }

    // MARK: - Files

    /// The default writer: create/truncate, write all bytes, fsync, close; errors name the file and errno text
    /// ("No space left on device").
    public static let durableWrite: FileWriter = { data, url in
        let fd = open(url.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw CheckpointError("cannot create \(url.path): \(errnoText())") }
        var failure: String?
        data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            var done = 0
            while done < raw.count {
                let n = write(fd, raw.baseAddress! + done, raw.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = "cannot write \(url.path): \(errnoText())"
                    return
                }
                done += n
            }
        }
        if failure == nil, fsync(fd) != 0 { failure = "cannot flush \(url.path): \(errnoText())" }
        if close(fd) != 0, failure == nil { failure = "cannot close \(url.path): \(errnoText())" }
        if let failure { throw CheckpointError(failure) }
    }

    static func syncDirectory(_ url: URL) throws {
        let fd = open(url.path, O_RDONLY)
        guard fd >= 0 else { throw CheckpointError("cannot open \(url.path): \(errnoText())") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw CheckpointError("cannot flush \(url.path): \(errnoText())") }
    }

    static func checkName(_ name: String) throws {
        guard !name.isEmpty, !name.contains("/"), !name.hasPrefix("."), name != manifestName else {
            throw CheckpointError("'\(name)' cannot be a checkpoint file name")
        }
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }

    static func reason(_ error: Error) -> String {
        if let e = error as? CheckpointError { return e.description }
        return (error as NSError).localizedDescription
    }
}

/// A checkpoint read back by `CheckpointStore.latest()`.
public struct LoadedCheckpoint: Sendable {
    public struct Skipped: Sendable {
        public let step: Int
        public let directory: URL
        /// Why it was not used ("adapter.tlra has 10 bytes, the manifest says 1234 (truncated)").
        public let reason: String
    }

    public let step: Int
    public let directory: URL
    public let files: [String: Data]
    /// Newer checkpoints that failed verification, newest first. Print them: the run resumes from further back.
    public let skipped: [Skipped]

    /// The bytes of `name`, or an error naming the checkpoint when it has no such file.
    public func file(_ name: String) throws -> Data {
        guard let d = files[name] else { throw CheckpointError("checkpoint \(directory.path) has no file \(name)") }
        return d
    }

    /// Decodes the JSON file `name`.
    public func json<T: Decodable>(_ type: T.Type, _ name: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: try file(name))
        } catch let e as CheckpointError {
            throw e
        } catch {
            throw CheckpointError("checkpoint \(directory.path): \(name) cannot be decoded as \(type): \(error)")
        }
    }
}

/// A checkpoint that cannot be saved or loaded.
public struct CheckpointError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ message: String) { description = message }
}
