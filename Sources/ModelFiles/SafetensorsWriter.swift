import Numerics

/// Builds a safetensors file byte-for-byte as the upstream Rust crate (`safetensors::serialize`) does:
/// tensors ordered by dtype (upstream declaration order, descending) then by name (bytewise), laid out
/// contiguously from data offset 0; the header is compact JSON — `__metadata__` first (keys sorted here, for
/// determinism), then each tensor as `{"dtype":..,"shape":[..],"data_offsets":[b,e]}` — with serde_json's string
/// escaping, padded with spaces to a multiple of 8 bytes.
public struct SafetensorsWriter {
    /// The `__metadata__` map; omitted from the header when nil.
    public var metadata: [String: String]?
    private var tensors: [(name: String, dtype: SafetensorsDType, shape: [Int], bytes: [UInt8])] = []
    private var names: Set<String> = []

    public init(metadata: [String: String]? = nil) {
        self.metadata = metadata
    }

    /// Adds a tensor from its raw little-endian bytes. `shape` is row-major, outermost first.
    public mutating func addTensor(name: String, dtype: SafetensorsDType, shape: [Int], bytes: [UInt8]) throws {
        guard name != "__metadata__" else { throw ModelFileError("a tensor cannot be named __metadata__") }
        guard !names.contains(name) else { throw ModelFileError("duplicate tensor name \(name)") }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw ModelFileError("tensor \(name) has a negative dimension \(shape)") }
        var elements = 1
        for d in shape {
            let (e, o) = elements.multipliedReportingOverflow(by: d)
            guard !o else { throw ModelFileError("tensor \(name): shape \(shape) overflows") }
            elements = e
        }
        guard let size = dtype.byteCount(elements: elements) else {
            throw ModelFileError("tensor \(name): \(elements) \(dtype.rawValue) elements do not fill whole bytes")
        }
        guard size == bytes.count else {
            throw ModelFileError("tensor \(name): \(bytes.count) bytes given, shape \(shape) of \(dtype.rawValue) needs \(size)")
        }
        tensors.append((name, dtype, shape, bytes))
        names.insert(name)
    }

    /// Adds a tensor from fp32 values stored as F32, F16 or BF16.
    public mutating func addTensor(name: String, shape: [Int], values: [Float], as dtype: SafetensorsDType) throws {
        let ggml: GGMLType
        switch dtype {
        case .f32: ggml = .f32
        case .f16: ggml = .f16
        case .bf16: ggml = .bf16
        default: throw ModelFileError("tensor \(name): cannot store fp32 values as \(dtype.rawValue) (F32, F16 or BF16 only)")
        }
        try addTensor(name: name, dtype: dtype, shape: shape, bytes: Quantize.encode(ggml, values))
    }

    /// Tensors in file order.
    private var ordered: [(name: String, dtype: SafetensorsDType, shape: [Int], bytes: [UInt8])] {
        tensors.sorted { a, b in
            if a.dtype != b.dtype { return a.dtype.order > b.dtype.order }
            return a.name.utf8.lexicographicallyPrecedes(b.name.utf8)
        }
    }

    /// The 8-byte length and the padded JSON header.
    public func header() throws -> [UInt8] {
        var json = "{"
        var first = true
        if let metadata {
            json += "\"__metadata__\":{"
            for (i, key) in metadata.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }).enumerated() {
                if i > 0 { json += "," }
                json += JSONText.quoted(key) + ":" + JSONText.quoted(metadata[key]!)
            }
            json += "}"
            first = false
        }
        var offset = 0
        for t in ordered {
            if !first { json += "," }
            first = false
            let end = offset + t.bytes.count
            json += JSONText.quoted(t.name) + ":{\"dtype\":\"\(t.dtype.rawValue)\",\"shape\":["
                + t.shape.map(String.init).joined(separator: ",") + "],\"data_offsets\":[\(offset),\(end)]}"
            offset = end
        }
        json += "}"
        var bytes = Array(json.utf8)
        bytes.append(contentsOf: repeatElement(UInt8(ascii: " "), count: (8 - bytes.count % 8) % 8))
        guard bytes.count <= SafetensorsFile.maxHeaderBytes else {
            throw ModelFileError("safetensors header of \(bytes.count) bytes is too large (limit \(SafetensorsFile.maxHeaderBytes))")
        }
        var out: [UInt8] = []
        withUnsafeBytes(of: UInt64(bytes.count).littleEndian) { out.append(contentsOf: $0) }
        return out + bytes
    }

    /// The whole file in memory.
    public func serialize() throws -> [UInt8] {
        var out = try header()
        for t in ordered { out.append(contentsOf: t.bytes) }
        return out
    }

    /// Writes the file atomically (temporary file in the same directory, fsync, rename).
    public func write(to path: String) throws {
        let out = try AtomicFileWriter(path: path)
        try out.write(try header())
        for t in ordered { try out.write(t.bytes) }
        try out.commit()
    }

}
