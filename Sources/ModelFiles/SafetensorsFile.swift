import Foundation
import Numerics

/// One tensor of a safetensors file.
public struct SafetensorsTensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: SafetensorsDType
    /// Row-major shape, outermost first (PyTorch order).
    public let shape: [Int]
    /// Byte range relative to the start of the data section.
    public let dataOffsets: Range<Int>

    public init(name: String, dtype: SafetensorsDType, shape: [Int], dataOffsets: Range<Int>) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.dataOffsets = dataOffsets
    }

    public var elementCount: Int { shape.reduce(1, *) }
    public var byteCount: Int { dataOffsets.count }
}

/// A safetensors file, memory-mapped and validated on open.
///
/// Layout: u64 little-endian header length N, then N bytes of UTF-8 JSON (possibly padded with whitespace),
/// then the data section. The JSON object maps each tensor name to
/// `{"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}` (offsets relative to the data section) and
/// may hold `"__metadata__": {string: string}`. Validation follows the upstream crate: N ≤ 100,000,000 and fits
/// the file; tensors sorted by offsets must tile the data section exactly (each begins where the previous one
/// ended, the first at 0, the last ends at the end of the file); each range's size equals
/// elements × dtype bits / 8.
public final class SafetensorsFile: @unchecked Sendable {
    public let path: String
    /// The `__metadata__` string map (empty if absent).
    public let metadata: [String: String]
    /// Tensors in data order.
    public let tensors: [SafetensorsTensorInfo]
    /// Byte offset of the data section in the file (8 + header length).
    public let dataOffset: Int
    private let file: MappedFile
    private let index: [String: Int]

    /// The upstream crate's header size limit.
    public static let maxHeaderBytes = 100_000_000

    public convenience init(path: String) throws {
        try self.init(file: MappedFile(path: path))
    }

    public init(file: MappedFile) throws {
        self.file = file
        path = file.path
        let bytes = file.bytes
        func fail(_ what: String) -> ModelFileError { ModelFileError("\(file.path): \(what)") }
        guard bytes.count >= 8 else {
            throw fail("not a safetensors file: \(bytes.count) bytes is too short for the 8-byte header length")
        }
        let n = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self))
        guard n <= UInt64(Self.maxHeaderBytes) else {
            throw fail("header length \(n) is absurd (limit \(Self.maxHeaderBytes)); not a safetensors file or corrupt")
        }
        guard Int(n) <= bytes.count - 8 else {
            throw fail("header length \(n) is larger than the rest of the file (\(bytes.count - 8) bytes); the file is truncated")
        }
        let headerBytes = UnsafeRawBufferPointer(rebasing: bytes[8 ..< 8 + Int(n)])
        dataOffset = 8 + Int(n)
        let (metadata, tensors) = try Self.parseHeader(headerBytes, dataSize: bytes.count - dataOffset, fail: fail)
        self.metadata = metadata
        self.tensors = tensors
        var index: [String: Int] = [:]
        for (i, t) in tensors.enumerated() { index[t.name] = i }
        self.index = index
    }

    public var names: [String] { tensors.map(\.name) }

    public func tensorInfo(_ name: String) -> SafetensorsTensorInfo? {
        index[name].map { tensors[$0] }
    }

    /// The raw little-endian bytes of a tensor.
    public func rawData(_ info: SafetensorsTensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: file.bytes[dataOffset + info.dataOffsets.lowerBound ..< dataOffset + info.dataOffsets.upperBound])
    }

    /// A tensor converted to fp32 (from F32, F16, BF16 or F64), row-major.
    public func floats(_ name: String) throws -> [Float] {
        guard let info = tensorInfo(name) else { throw ModelFileError("\(path): no tensor named \(name)") }
        return try floats(info)
    }

    public func floats(_ info: SafetensorsTensorInfo) throws -> [Float] {
        try Self.convertToFloat(rawData(info), dtype: info.dtype, count: info.elementCount, what: "\(path): tensor \(info.name)")
    }

    static func convertToFloat(_ raw: UnsafeRawBufferPointer, dtype: SafetensorsDType, count: Int, what: String) throws -> [Float] {
        let same: GGMLType
        switch dtype {
        case .f32: same = .f32
        case .f16: same = .f16
        case .bf16: same = .bf16
        case .f64:
            return [Float](unsafeUninitializedCapacity: count) { buf, n in
                for i in 0 ..< count {
                    buf[i] = Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))))
                }
                n = count
            }
        default:
            throw ModelFileError("\(what): cannot convert dtype \(dtype.rawValue) to fp32 (only F32, F16, BF16 and F64 are)")
        }
        // F32/F16/BF16 are stored exactly like the GGUF types of the same name.
        return try [Float](unsafeUninitializedCapacity: count) { buf, n in
            if count > 0 {
                HugePages.advise(buf.baseAddress!, count: count)
                try Dequantize.decodeParallel(same, raw, count: count, into: buf.baseAddress!)
            }
            n = count
        }
    }

    // MARK: header parsing

    static func parseHeader(_ header: UnsafeRawBufferPointer, dataSize: Int,
                            fail: (String) -> ModelFileError) throws -> ([String: String], [SafetensorsTensorInfo]) {
        guard String(validating: header, as: UTF8.self) != nil else {
            throw fail("the JSON header is not valid UTF-8")
        }
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: Data(header), options: [])
        } catch {
            throw fail("the header is not valid JSON (\(error.localizedDescription))")
        }
        guard let object = json as? [String: Any] else { throw fail("the JSON header is not an object") }
        var metadata: [String: String] = [:]
        var infos: [SafetensorsTensorInfo] = []
        for (name, value) in object {
            if name == "__metadata__" {
                guard let map = value as? [String: Any] else { throw fail("__metadata__ is not an object") }
                for (k, v) in map {
                    guard let s = v as? String else { throw fail("__metadata__ value for \(k) is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard let entry = value as? [String: Any] else { throw fail("tensor \(name): entry is not an object") }
            guard let dtypeName = entry["dtype"] as? String else { throw fail("tensor \(name): missing dtype") }
            guard let dtype = SafetensorsDType(rawValue: dtypeName) else {
                throw fail("tensor \(name): unknown dtype \(dtypeName)")
            }
            guard let shapeValues = entry["shape"] as? [Any] else { throw fail("tensor \(name): missing shape") }
            let shape = try shapeValues.map { try jsonInt($0, "tensor \(name): shape", fail) }
            guard let offsets = entry["data_offsets"] as? [Any], offsets.count == 2 else {
                throw fail("tensor \(name): data_offsets must be [begin, end]")
            }
            let begin = try jsonInt(offsets[0], "tensor \(name): data_offsets", fail)
            let end = try jsonInt(offsets[1], "tensor \(name): data_offsets", fail)
            guard begin <= end else { throw fail("tensor \(name): data_offsets [\(begin), \(end)] end before they begin") }
            var elements = 1
            for d in shape {
                let (e, o) = elements.multipliedReportingOverflow(by: d)
                guard !o else { throw fail("tensor \(name): shape \(shape) overflows") }
                elements = e
            }
            guard let size = dtype.byteCount(elements: elements) else {
                throw fail("tensor \(name): \(elements) \(dtype.rawValue) elements overflow or do not fill whole bytes")
            }
            guard end - begin == size else {
                throw fail("tensor \(name): data_offsets [\(begin), \(end)] hold \(end - begin) bytes, but shape \(shape) of \(dtype.rawValue) needs \(size)")
            }
            infos.append(SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, dataOffsets: begin ..< end))
        }
        infos.sort { ($0.dataOffsets.lowerBound, $0.dataOffsets.upperBound, $0.name) < ($1.dataOffsets.lowerBound, $1.dataOffsets.upperBound, $1.name) }
        var next = 0
        for t in infos {
            guard t.dataOffsets.lowerBound == next else {
                if t.dataOffsets.lowerBound < next {
                    throw fail("tensor \(t.name): data_offsets \(t.dataOffsets) overlap the previous tensor (which ends at \(next))")
                }
                throw fail("tensor \(t.name): data_offsets \(t.dataOffsets) leave a gap after byte \(next) of the data section")
            }
            guard t.dataOffsets.upperBound <= dataSize else {
                throw fail("tensor \(t.name): data_offsets \(t.dataOffsets) run past the end of the data section (\(dataSize) bytes); the file is truncated")
            }
            next = t.dataOffsets.upperBound
        }
        guard next == dataSize else {
            throw fail("the tensors cover \(next) bytes but the data section has \(dataSize); the file has trailing bytes")
        }
        return (metadata, infos)
    }

    /// A JSON number that is a non-negative integer ≤ 2^53 (exact in a double).
    static func jsonInt(_ v: Any, _ what: String, _ fail: (String) -> ModelFileError) throws -> Int {
        guard let n = v as? NSNumber, !(v is String) else { throw fail("\(what) holds a non-number") }
        let d = n.doubleValue
        guard d >= 0, d <= 9_007_199_254_740_992, d.rounded() == d else {
            throw fail("\(what) holds \(n), not a non-negative integer of sane size")
        }
        return Int(d)
    }
}
