/// Builds a GGUF v3 file (little-endian) and writes it atomically.
///
/// Layout written: magic "GGUF", u32 version 3, u64 tensor count, u64 metadata count; each metadata entry as
/// (string key, u32 value type, value) in insertion order; each tensor info as (string name, u32 n_dims,
/// u64 dims[n_dims] innermost first, u32 ggml type, u64 offset into the data section); zero padding to the
/// alignment; then each tensor's bytes at its offset, each followed by zero padding to the alignment.
/// Strings are u64 byte length + UTF-8 bytes (no terminator); arrays are u32 element type + u64 count + elements.
/// The alignment is `general.alignment` if that key is set (a power of two), else 32.
public struct GGUFWriter {
    private var metadata: [(key: String, value: GGUFValue)] = []
    private var metadataIndex: [String: Int] = [:]
    private var tensors: [PendingTensor] = []
    private var tensorIndex: Set<String> = []

    private struct PendingTensor {
        let name: String
        let dims: [Int]
        let type: GGMLType
        let byteCount: Int
        let data: TensorBytes
    }

    private enum TensorBytes {
        case bytes([UInt8])
        /// Called once at write time with a buffer of exactly `byteCount` bytes to fill.
        case producer((UnsafeMutableRawBufferPointer) throws -> Void)
    }

    public init() {}

    /// Sets a metadata value. A key set twice keeps its first position and takes the new value.
    public mutating func set(_ key: String, _ value: GGUFValue) throws {
        try Self.validate(value, key: key, depth: 0)
        if let i = metadataIndex[key] {
            metadata[i].value = value
        } else {
            metadataIndex[key] = metadata.count
            metadata.append((key, value))
        }
    }

    /// Adds a tensor whose stored bytes are given. `dims` are innermost first (GGUF order).
    public mutating func addTensor(name: String, dims: [Int], type: GGMLType, bytes: [UInt8]) throws {
        let n = try checkTensor(name: name, dims: dims, type: type)
        guard bytes.count == n else {
            throw ModelFileError("tensor \(name): \(bytes.count) bytes given, \(type.name) \(dims) needs \(n)")
        }
        tensors.append(PendingTensor(name: name, dims: dims, type: type, byteCount: n, data: .bytes(bytes)))
        tensorIndex.insert(name)
    }

    /// Adds a tensor from fp32 values, encoded as `type` (F32, F16, BF16 or Q8_0).
    public mutating func addTensor(name: String, dims: [Int], values: [Float], as type: GGMLType) throws {
        let bytes = try checkTensor(name: name, dims: dims, type: type)
        let count = bytes / type.typeSize * type.blockSize
        guard values.count == count else {
            throw ModelFileError("tensor \(name): \(values.count) values given for dims \(dims) (\(count) elements)")
        }
        try addTensor(name: name, dims: dims, type: type, bytes: Quantize.encode(type, values))
    }

    /// Adds a tensor whose bytes are produced at write time (keeps big exports out of memory until then).
    public mutating func addTensor(name: String, dims: [Int], type: GGMLType,
                                   producer: @escaping (UnsafeMutableRawBufferPointer) throws -> Void) throws {
        let n = try checkTensor(name: name, dims: dims, type: type)
        tensors.append(PendingTensor(name: name, dims: dims, type: type, byteCount: n, data: .producer(producer)))
        tensorIndex.insert(name)
    }

    private func checkTensor(name: String, dims: [Int], type: GGMLType) throws -> Int {
        guard !tensorIndex.contains(name) else { throw ModelFileError("duplicate tensor name \(name)") }
        guard !dims.isEmpty, dims.count <= GGUFFile.maxDims else {
            throw ModelFileError("tensor \(name) has \(dims.count) dimensions (1...\(GGUFFile.maxDims) allowed)")
        }
        guard dims.allSatisfy({ $0 >= 0 }) else { throw ModelFileError("tensor \(name) has a negative dimension \(dims)") }
        guard dims[0] % type.blockSize == 0 else {
            throw ModelFileError("tensor \(name): innermost dimension \(dims[0]) is not a multiple of the \(type.name) block size \(type.blockSize)")
        }
        var count = 1
        for d in dims {
            let (c, o) = count.multipliedReportingOverflow(by: d)
            guard !o else { throw ModelFileError("tensor \(name) has too many elements \(dims)") }
            count = c
        }
        guard let n = type.byteCount(elements: count) else {
            throw ModelFileError("tensor \(name): \(count) elements is not a whole number of \(type.name) blocks")
        }
        return n
    }

    /// The alignment the file will use.
    public var alignment: Int {
        get throws {
            guard let i = metadataIndex["general.alignment"] else { return 32 }
            guard let v = metadata[i].value.int, v > 0, v <= 1 << 20, v & (v - 1) == 0 else {
                throw ModelFileError("general.alignment must be a power of two, got \(metadata[i].value)")
            }
            return v
        }
    }

    /// Writes the file atomically (temporary file in the same directory, fsync, rename).
    public func write(to path: String) throws {
        let alignment = try self.alignment
        var header = ByteWriter()
        header.u32(0x4655_4747)  // "GGUF"
        header.u32(3)
        header.u64(UInt64(tensors.count))
        header.u64(UInt64(metadata.count))
        for (key, value) in metadata {
            header.string(key)
            header.u32(value.typeCode)
            Self.writeValue(value, to: &header)
        }
        var offset = 0
        var offsets: [Int] = []
        for t in tensors {
            header.string(t.name)
            header.u32(UInt32(t.dims.count))
            for d in t.dims { header.u64(UInt64(d)) }
            header.u32(t.type.rawValue)
            header.u64(UInt64(offset))
            offsets.append(offset)
            offset += Self.padded(t.byteCount, alignment)
        }
        header.bytes.append(contentsOf: repeatElement(0, count: Self.padded(header.bytes.count, alignment) - header.bytes.count))

        let out = try AtomicFileWriter(path: path)
        try out.write(header.bytes)
        for t in tensors {
            switch t.data {
            case .bytes(let b):
                try out.write(b)
            case .producer(let fill):
                var buf = [UInt8](repeating: 0, count: t.byteCount)
                try buf.withUnsafeMutableBytes { try fill($0) }
                try out.write(buf)
            }
            try out.writeZeros(Self.padded(t.byteCount, alignment) - t.byteCount)
        }
        try out.commit()
    }

    static func padded(_ n: Int, _ alignment: Int) -> Int {
        (n + alignment - 1) / alignment * alignment
    }

    static func validate(_ value: GGUFValue, key: String, depth: Int) throws {
        guard case .array(let elementType, let items) = value else { return }
        guard depth < 2 else { throw ModelFileError("\(key): arrays nested too deeply") }
        guard elementType <= 12 else { throw ModelFileError("\(key): unknown array element type \(elementType)") }
        for item in items {
            guard item.typeCode == elementType else {
                throw ModelFileError("\(key): array of type \(elementType) holds a value of type \(item.typeCode)")
            }
            try validate(item, key: key, depth: depth + 1)
        }
    }

    static func writeValue(_ value: GGUFValue, to w: inout ByteWriter) {
        switch value {
        case .uint8(let v): w.bytes.append(v)
        case .int8(let v): w.bytes.append(UInt8(bitPattern: v))
        case .uint16(let v): w.int(v)
        case .int16(let v): w.int(v)
        case .uint32(let v): w.u32(v)
        case .int32(let v): w.int(v)
        case .float32(let v): w.u32(v.bitPattern)
        case .bool(let v): w.bytes.append(v ? 1 : 0)
        case .string(let s): w.string(s)
        case .uint64(let v): w.u64(v)
        case .int64(let v): w.int(v)
        case .float64(let v): w.u64(v.bitPattern)
        case .array(let elementType, let items):
            w.u32(elementType)
            w.u64(UInt64(items.count))
            for item in items { writeValue(item, to: &w) }
        }
    }
}

/// Little-endian byte builder for file headers.
struct ByteWriter {
    var bytes: [UInt8] = []

    mutating func int<T: FixedWidthInteger>(_ v: T) {
        withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func u32(_ v: UInt32) { int(v) }
    mutating func u64(_ v: UInt64) { int(v) }

    mutating func string(_ s: String) {
        u64(UInt64(s.utf8.count))
        bytes.append(contentsOf: s.utf8)
    }
}
