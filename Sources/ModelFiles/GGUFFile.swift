import Numerics

/// A metadata value in a GGUF file. Integer widths are kept so a file can be written back unchanged.
public indirect enum GGUFValue: Equatable, Sendable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16), uint32(UInt32), int32(Int32)
    case float32(Float), bool(Bool), string(String), uint64(UInt64), int64(Int64), float64(Double)
    /// An array of one element type. `elementType` is the GGUF type code, kept for empty arrays.
    case array(elementType: UInt32, [GGUFValue])

    /// The GGUF value type code.
    public var typeCode: UInt32 {
        switch self {
        case .uint8: 0
        case .int8: 1
        case .uint16: 2
        case .int16: 3
        case .uint32: 4
        case .int32: 5
        case .float32: 6
        case .bool: 7
        case .string: 8
        case .array: 9
        case .uint64: 10
        case .int64: 11
        case .float64: 12
        }
    }

    /// Any integer kind as Int (nil for non-integers or values that do not fit).
    public var int: Int? {
        switch self {
        case .uint8(let v): Int(v)
        case .int8(let v): Int(v)
        case .uint16(let v): Int(v)
        case .int16(let v): Int(v)
        case .uint32(let v): Int(v)
        case .int32(let v): Int(v)
        case .uint64(let v): Int(exactly: v)
        case .int64(let v): Int(v)
        default: nil
        }
    }

    /// Any numeric kind as Double.
    public var double: Double? {
        switch self {
        case .float32(let v): Double(v)
        case .float64(let v): v
        default: int.map(Double.init)
        }
    }

    public var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var bool: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var array: [GGUFValue]? {
        if case .array(_, let a) = self { return a }
        return nil
    }
}

/// Where one tensor lives in a GGUF file.
public struct GGUFTensorInfo: Sendable {
    public let name: String
    /// Dimensions as stored: innermost (contiguous) first, so a HF `[out, in]` matrix is `[in, out]` here.
    public let dims: [Int]
    public let type: GGMLType
    /// Offset from the start of the data section.
    public let offset: Int
    public let byteCount: Int

    public var elementCount: Int { dims.reduce(1, *) }
}

/// A GGUF v2/v3 file (little-endian), memory-mapped. Metadata and tensor infos are parsed eagerly and
/// validated against the file size; tensor data stays in the mapping until asked for.
///
/// Layout: magic "GGUF", u32 version, u64 tensor count, u64 metadata count, metadata key/values,
/// tensor infos (name, u32 n_dims, u64 dims[n_dims], u32 type, u64 offset), padding to `general.alignment`
/// (default 32), then the data section.
///
/// Checks on open (each failure throws a ModelFileError naming the file and the problem): magic, version 2 or 3,
/// counts and lengths that the remaining bytes could hold (strings ≤ 64 MiB, arrays ≤ 2^24 items, nesting ≤ 2),
/// known value and tensor types, 1...4 dims with the innermost a multiple of the type's block size, offsets
/// aligned, every tensor's bytes inside the file, no two tensors overlapping, no duplicate keys or names.
public final class GGUFFile: @unchecked Sendable {
    public let path: String
    public let version: UInt32
    public let metadata: [String: GGUFValue]
    /// Metadata keys in file order.
    public let metadataKeys: [String]
    /// Tensor infos in file order.
    public let tensors: [GGUFTensorInfo]
    public let alignment: Int
    public let dataOffset: Int
    private let file: MappedFile
    private let index: [String: Int]

    /// Limits that keep a hostile header from causing huge allocations or endless loops.
    static let maxStringBytes = 1 << 26
    static let maxDims = 4
    /// Longest metadata array accepted (vocabularies have ~10^5 entries).
    static let maxArrayLength = 1 << 24

    public convenience init(path: String) throws {
        try self.init(file: MappedFile(path: path))
    }

    public init(file: MappedFile) throws {
        self.file = file
        self.path = file.path
        var r = ByteReader(file.bytes, context: file.path)
        let magic = try r.read(UInt32.self, "magic")
        guard magic == 0x4655_4747 else {  // "GGUF" little-endian
            throw r.error("not a GGUF file (bad magic)")
        }
        let version = try r.read(UInt32.self, "version")
        if version == 1 {
            throw r.error("GGUF version 1 is not supported (re-convert the model with a current llama.cpp)")
        }
        guard version == 2 || version == 3 else {
            if version.byteSwapped == 2 || version.byteSwapped == 3 {
                throw r.error("big-endian GGUF files are not supported")
            }
            throw r.error("unsupported GGUF version \(version)")
        }
        self.version = version
        let tensorCount = try r.read(UInt64.self, "tensor count")
        let kvCount = try r.read(UInt64.self, "metadata count")
        // Each key/value needs at least 8 (key length) + 4 (type) bytes, each tensor info at least 8+4+4+8.
        guard kvCount <= UInt64(r.remaining / 12) else {
            throw r.error("metadata count \(kvCount) is larger than the file could hold; the file is truncated or corrupt")
        }
        guard tensorCount <= UInt64(r.remaining / 24) else {
            throw r.error("tensor count \(tensorCount) is larger than the file could hold; the file is truncated or corrupt")
        }

        var metadata: [String: GGUFValue] = [:]
        var keys: [String] = []
        keys.reserveCapacity(Int(kvCount))
        for _ in 0 ..< Int(kvCount) {
            let key = try Self.readString(&r, "metadata key")
            let type = try r.read(UInt32.self, "type of \(key)")
            let value = try Self.readValue(&r, type: type, key: key, depth: 0)
            if metadata.updateValue(value, forKey: key) != nil {
                throw r.error("duplicate metadata key \(key)")
            }
            keys.append(key)
        }
        self.metadata = metadata
        self.metadataKeys = keys

        var alignment = 32
        if let a = metadata["general.alignment"] {
            guard let v = a.int, v > 0, v <= 1 << 20, v & (v - 1) == 0 else {
                throw r.error("general.alignment must be a power of two, got \(a)")
            }
            alignment = v
        }
        self.alignment = alignment

        var infos: [GGUFTensorInfo] = []
        infos.reserveCapacity(Int(tensorCount))
        var index: [String: Int] = [:]
        for _ in 0 ..< Int(tensorCount) {
            let name = try Self.readString(&r, "tensor name")
            let nDims = try r.read(UInt32.self, "dimension count of \(name)")
            guard nDims >= 1, nDims <= UInt32(Self.maxDims) else {
                throw r.error("tensor \(name) has \(nDims) dimensions (1...\(Self.maxDims) allowed)")
            }
            var dims: [Int] = []
            var elements = 1
            for _ in 0 ..< Int(nDims) {
                let d = try r.read(UInt64.self, "dimension of \(name)")
                guard d <= UInt64(Int32.max), let di = Int(exactly: d) else {
                    throw r.error("tensor \(name) has an absurd dimension \(d)")
                }
                let (e, overflow) = elements.multipliedReportingOverflow(by: di)
                guard !overflow else { throw r.error("tensor \(name) has too many elements") }
                elements = e
                dims.append(di)
            }
            let rawType = try r.read(UInt32.self, "type of \(name)")
            guard let type = GGMLType(rawValue: rawType) else {
                throw r.error("tensor \(name) has unknown ggml type \(rawType)")
            }
            let offset = try r.read(UInt64.self, "offset of \(name)")
            guard dims[0] % type.blockSize == 0, let byteCount = type.byteCount(elements: elements) else {
                throw r.error("tensor \(name): innermost dimension \(dims[0]) is not a multiple of the \(type.name) block size \(type.blockSize)")
            }
            guard offset <= UInt64(Int.max / 2), Int(offset) % alignment == 0 else {
                throw r.error("tensor \(name) has a misaligned or absurd offset \(offset)")
            }
            if index.updateValue(infos.count, forKey: name) != nil {
                throw r.error("duplicate tensor name \(name)")
            }
            infos.append(GGUFTensorInfo(name: name, dims: dims, type: type, offset: Int(offset), byteCount: byteCount))
        }
        let dataOffset = (r.offset + alignment - 1) / alignment * alignment
        self.dataOffset = dataOffset
        let dataSize = file.count - min(dataOffset, file.count)
        for t in infos {
            // offset <= Int.max / 2 and byteCount <= file-derived bounds are checked without overflow.
            guard t.offset <= dataSize, t.byteCount <= dataSize - t.offset else {
                throw ModelFileError(
                    "\(file.path): tensor \(t.name) (\(t.byteCount) bytes at data offset \(t.offset)) ends past the end of the file (\(file.count) bytes, data section starts at \(dataOffset)); the file is truncated or corrupt")
            }
        }
        // Tensor data must not overlap.
        let byOffset = infos.filter { $0.byteCount > 0 }.sorted { $0.offset < $1.offset }
        for (a, b) in zip(byOffset, byOffset.dropFirst()) where a.offset + a.byteCount > b.offset {
            throw ModelFileError("\(file.path): the data of tensors \(a.name) and \(b.name) overlap; the file is corrupt")
        }
        self.tensors = infos
        self.index = index
    }

    public func tensorInfo(_ name: String) -> GGUFTensorInfo? {
        index[name].map { tensors[$0] }
    }

    /// The raw bytes of a tensor, exactly as stored.
    public func rawData(_ info: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        let start = dataOffset + info.offset
        return UnsafeRawBufferPointer(rebasing: file.bytes[start ..< start + info.byteCount])
    }

    /// Decodes a whole tensor to fp32, in storage order (innermost dimension contiguous).
    public func dequantize(_ name: String) throws -> [Float] {
        guard let info = tensorInfo(name) else { throw ModelFileError("\(path): no tensor named \(name)") }
        return try dequantize(info)
    }

    public func dequantize(_ info: GGUFTensorInfo) throws -> [Float] {
        let raw = rawData(info)
        return try [Float](unsafeUninitializedCapacity: info.elementCount) { buf, n in
            if info.elementCount > 0 {
                HugePages.advise(buf.baseAddress!, count: info.elementCount)
                try Dequantize.decodeParallel(info.type, raw, count: info.elementCount, into: buf.baseAddress!)
            }
            n = info.elementCount
        }
    }

    /// Decodes rows `rows` of a tensor into `dst` (`rows.count * dims[0]` floats). A row is `dims[0]` contiguous
    /// elements (one embedding vector, or one output unit's weights); rows are numbered over all outer dims.
    public func dequantizeRows(_ info: GGUFTensorInfo, _ rows: Range<Int>, into dst: UnsafeMutablePointer<Float>) throws {
        let rowLength = info.dims[0]
        let rowCount = rowLength == 0 ? 0 : info.elementCount / rowLength
        guard rows.lowerBound >= 0, rows.upperBound <= rowCount else {
            throw ModelFileError("\(path): rows \(rows) out of range for tensor \(info.name) with \(rowCount) rows")
        }
        guard let rowBytes = info.type.byteCount(elements: rowLength), !rows.isEmpty else { return }
        let raw = rawData(info)
        let slice = UnsafeRawBufferPointer(rebasing: raw[rows.lowerBound * rowBytes ..< rows.upperBound * rowBytes])
        try Dequantize.decodeParallel(info.type, slice, count: rows.count * rowLength, into: dst)
    }

    // MARK: metadata accessors

    public func string(_ key: String) -> String? { metadata[key]?.string }
    public func int(_ key: String) -> Int? { metadata[key]?.int }
    public func double(_ key: String) -> Double? { metadata[key]?.double }

    /// The string array at `key` (tokenizer vocabularies, merges).
    public func strings(_ key: String) -> [String]? {
        metadata[key]?.array?.compactMap(\.string)
    }

    // MARK: parsing

    static func readString(_ r: inout ByteReader, _ what: String) throws -> String {
        let n = try r.read(UInt64.self, "length of \(what)")
        guard n <= UInt64(maxStringBytes) else { throw r.error("\(what) length \(n) is absurd") }
        let bytes = try r.readBytes(Int(n), what)
        // Invalid UTF-8 is repaired (U+FFFD) rather than rejected: some vocabularies hold raw byte tokens.
        return String(decoding: bytes, as: UTF8.self)
    }

    static func readValue(_ r: inout ByteReader, type: UInt32, key: String, depth: Int) throws -> GGUFValue {
        switch type {
        case 0: return .uint8(try r.read(UInt8.self, key))
        case 1: return .int8(try r.read(Int8.self, key))
        case 2: return .uint16(try r.read(UInt16.self, key))
        case 3: return .int16(try r.read(Int16.self, key))
        case 4: return .uint32(try r.read(UInt32.self, key))
        case 5: return .int32(try r.read(Int32.self, key))
        case 6: return .float32(try r.readF32(key))
        case 7:
            let b = try r.read(UInt8.self, key)
            guard b <= 1 else { throw r.error("\(key): bool value \(b) is neither 0 nor 1") }
            return .bool(b == 1)
        case 8: return .string(try readString(&r, key))
        case 9:
            guard depth < 2 else { throw r.error("\(key): arrays nested too deeply") }
            let elementType = try r.read(UInt32.self, "element type of \(key)")
            let count = try r.read(UInt64.self, "length of \(key)")
            let minSize: Int
            switch elementType {
            case 0, 1, 7: minSize = 1
            case 2, 3: minSize = 2
            case 4, 5, 6: minSize = 4
            case 8, 10, 11, 12: minSize = 8
            case 9: minSize = 12
            default: throw r.error("\(key): unknown array element type \(elementType)")
            }
            guard count <= UInt64(maxArrayLength) else {
                throw r.error("\(key): array length \(count) is absurd (limit \(maxArrayLength))")
            }
            guard count <= UInt64(r.remaining / minSize) else {
                throw r.error("\(key): array length \(count) is larger than the file could hold; the file is truncated or corrupt")
            }
            var items: [GGUFValue] = []
            items.reserveCapacity(Int(count))
            for _ in 0 ..< Int(count) {
                items.append(try readValue(&r, type: elementType, key: key, depth: depth + 1))
            }
            return .array(elementType: elementType, items)
        case 10: return .uint64(try r.read(UInt64.self, key))
        case 11: return .int64(try r.read(Int64.self, key))
        case 12: return .float64(try r.readF64(key))
        default: throw r.error("\(key): unknown metadata value type \(type)")
        }
    }
}
