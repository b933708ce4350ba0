import Foundation

/// A checkpoint stored as one or more safetensors files. A sharded checkpoint has `model.safetensors.index.json`,
/// whose `weight_map` maps each tensor name to the shard file (in the same directory) holding it:
/// `{"metadata": {...}, "weight_map": {"model.embed_tokens.weight": "model-00001-of-00002.safetensors", ...}}`.
/// Each shard is opened (memory-mapped) once.
public final class SafetensorsCollection: @unchecked Sendable {
    /// Shards by file name.
    public let files: [String: SafetensorsFile]
    /// Every tensor name → shard file name.
    public let weightMap: [String: String]

    /// Opens a checkpoint directory: `model.safetensors.index.json` if present, else `model.safetensors`, else
    /// the only `*.safetensors` file there.
    public convenience init(directory: String) throws {
        let fm = FileManager.default
        let index = (directory as NSString).appendingPathComponent("model.safetensors.index.json")
        if fm.fileExists(atPath: index) {
            try self.init(indexPath: index)
            return
        }
        let single = (directory as NSString).appendingPathComponent("model.safetensors")
        if fm.fileExists(atPath: single) {
            try self.init(files: [single])
            return
        }
        let all = ((try? fm.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasSuffix(".safetensors") }.sorted()
        guard all.count == 1 else {
            throw ModelFileError(all.isEmpty
                ? "\(directory): no model.safetensors, model.safetensors.index.json or other .safetensors file"
                : "\(directory): several .safetensors files (\(all.joined(separator: ", "))) but no model.safetensors.index.json")
        }
        try self.init(files: [(directory as NSString).appendingPathComponent(all[0])])
    }

    /// Opens the shards named by a `model.safetensors.index.json`; every tensor it names must be in its shard.
    public init(indexPath: String) throws {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: indexPath)) } catch {
            throw ModelFileError("cannot read \(indexPath): \(error.localizedDescription)")
        }
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ModelFileError("\(indexPath) is not a JSON object")
        }
        guard let map = json["weight_map"] as? [String: Any] else {
            throw ModelFileError("\(indexPath) has no weight_map object")
        }
        let dir = (indexPath as NSString).deletingLastPathComponent
        var weightMap: [String: String] = [:]
        var files: [String: SafetensorsFile] = [:]
        for (name, value) in map {
            guard let shard = value as? String else { throw ModelFileError("\(indexPath): weight_map[\(name)] is not a string") }
            guard !shard.isEmpty, !shard.contains("/"), shard != ".", shard != ".." else {
                throw ModelFileError("\(indexPath): weight_map[\(name)] = \(shard) is not a file name in the same directory")
            }
            if files[shard] == nil {
                files[shard] = try SafetensorsFile(path: (dir as NSString).appendingPathComponent(shard))
            }
            guard files[shard]!.tensorInfo(name) != nil else {
                throw ModelFileError("\(indexPath): tensor \(name) should be in \(shard), which does not hold it")
            }
            weightMap[name] = shard
        }
        self.files = files
        self.weightMap = weightMap
    }

    /// Treats the given files as one checkpoint; a tensor name may appear in only one of them.
    public init(files paths: [String]) throws {
        var files: [String: SafetensorsFile] = [:]
        var weightMap: [String: String] = [:]
        for path in paths {
            let key = (path as NSString).lastPathComponent
            let f = try SafetensorsFile(path: path)
            files[key] = f
            for name in f.names {
                if let other = weightMap.updateValue(key, forKey: name) {
                    throw ModelFileError("tensor \(name) is in both \(other) and \(key)")
                }
            }
        }
        self.files = files
        self.weightMap = weightMap
    }

    /// Every tensor name, sorted.
    public var names: [String] { weightMap.keys.sorted() }

    /// The `__metadata__` maps of all shards merged.
    public var metadata: [String: String] {
        files.values.reduce(into: [:]) { $0.merge($1.metadata) { a, _ in a } }
    }

    /// The shard holding `name` and its info there.
    public func tensor(_ name: String) -> (file: SafetensorsFile, info: SafetensorsTensorInfo)? {
        guard let shard = weightMap[name], let f = files[shard], let info = f.tensorInfo(name) else { return nil }
        return (f, info)
    }

    /// A tensor converted to fp32 (F32, F16, BF16, F64).
    public func floats(_ name: String) throws -> [Float] {
        guard let (f, info) = tensor(name) else { throw ModelFileError("no tensor named \(name) in the checkpoint") }
        return try f.floats(info)
    }
}
