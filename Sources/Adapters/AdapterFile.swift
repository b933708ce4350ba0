import Foundation
import ModelFiles
import Numerics
import Transformer

/// The native adapter file: a fixed header, the trained values and a checksum. A 13-value TinyLoRA adapter in fp32
/// is 252 bytes. The frozen tensors are not stored: loading regenerates A and B from the base model's weights
/// (top-r SVD with its sign convention) and P from the seed, after checking the base fingerprint.
///
/// Layout (little-endian; offsets in bytes):
/// ```
///   0  8  magic "TLADAPTR"
///   8  2  format version (1)
///  10  2  convention version (1: A = diag(√s)·Vᵀ, B = U·diag(√s), P from Projections.make, ΔW = B·R·A,
///         TruncatedSVD's sign convention, initial values of Adapter.initialParameters)
///  12  1  method (1 tinylora, 2 loraxs, 3 lora)
///  13  1  value type (0 fp32, 1 bf16, 2 fp16)
///  14  1  tying (0 none, 1 tiled, 2 all, 3 ratio, 4 structured)
///  15  1  targets (bit i set for kind i: q 0, k 1, v 2, o 3, gate 4, up 5, down 6)
///  16  4  r              20  4  u              24  4  tie size (tiled, structured; else 0)
///  28  4  α (f32)        32  8  tying ratio (f64; ratio, else 0)
///  40  8  seed
///  48  4  layers of the base model      52  4  first targeted layer      56  4  end of targeted layers (exclusive)
///  60  4  target modules  64  4  groups  68  4  reserved (0)
///  72  8  trained value count N
///  80 56  [out, in] (2 × u32) of each of the seven kinds in the base model, q to down
/// 136 32  base fingerprint (see BaseFingerprint)
/// 168     N values (fp32 4 bytes or bf16/fp16 2 bytes each), in Adapter's flat order
/// end-32  SHA-256 of all preceding bytes
/// ```
public struct AdapterFile: Equatable, Sendable {
    public static let magic: [UInt8] = Array("TLADAPTR".utf8)
    public static let formatVersion: UInt16 = 1
    public static let conventionVersion: UInt16 = 1
    static let headerSize = 168
    static let checksumSize = 32

    public var configuration: AdapterConfiguration
    public var layerCount: Int
    /// `[out, in]` of q, k, v, o, gate, up, down in the base model.
    public var shapes: [[Int]]
    public var fingerprint: BaseFingerprint
    public var parameters: [Float]

    public init(configuration: AdapterConfiguration, layerCount: Int, shapes: [[Int]], fingerprint: BaseFingerprint,
                parameters: [Float]) {
        self.configuration = configuration
        self.layerCount = layerCount
        self.shapes = shapes
        self.fingerprint = fingerprint
        self.parameters = parameters
    }

    /// The file content of an adapter (its values are stored in `configuration.parameterDType`).
    public init(_ adapter: Adapter) {
        let plan = adapter.plan
        self.init(configuration: plan.configuration, layerCount: plan.layerCount,
                  shapes: ModuleKind.allCases.map { [plan.shapes[$0]!.out, plan.shapes[$0]!.in] },
                  fingerprint: adapter.base.fingerprint, parameters: adapter.parameters)
    }

    /// The plan the header describes (validates the configuration and shapes).
    public func plan() throws -> AdapterPlan {
        guard shapes.count == 7, shapes.allSatisfy({ $0.count == 2 && $0[0] > 0 && $0[1] > 0 }) else {
            throw AdapterError("the header's module shapes are invalid")
        }
        var s: [ModuleKind: (out: Int, in: Int)] = [:]
        for kind in ModuleKind.allCases { s[kind] = (shapes[kind.rawValue][0], shapes[kind.rawValue][1]) }
        return try AdapterPlan(configuration: configuration, layerCount: layerCount, shapes: s)
    }

    // MARK: encoding

    public func encoded() throws -> [UInt8] {
        let c = configuration
        let plan = try plan()
        guard parameters.count == plan.trainableParameterCount else {
            throw AdapterError("\(parameters.count) values for an adapter of \(plan.trainableParameterCount)")
        }
        var out = ByteWriter()
        out.bytes += AdapterFile.magic
        out.u16(AdapterFile.formatVersion)
        out.u16(AdapterFile.conventionVersion)
        out.u8(c.method.rawValue)
        out.u8(c.parameterDType.rawValue)
        let (tyingCode, tieSize, ratio): (UInt8, Int, Double) = switch c.tying {
        case .none: (0, 0, 0)
        case .tiled(let n): (1, n, 0)
        case .all: (2, 0, 0)
        case .ratio(let x): (3, 0, x)
        case .structured(let n): (4, n, 0)
        }
        out.u8(tyingCode)
        out.u8(ModuleKind.mask(c.targets))
        out.u32(c.rank)
        out.u32(c.u)
        out.u32(tieSize)
        out.u32(Int(c.alpha.bitPattern))
        out.u64(ratio.bitPattern)
        out.u64(c.seed)
        out.u32(layerCount)
        out.u32(plan.layers.lowerBound)
        out.u32(plan.layers.upperBound)
        out.u32(plan.modules.count)
        out.u32(plan.groupCount)
        out.u32(0)
        out.u64(UInt64(parameters.count))
        for s in shapes { out.u32(s[0]); out.u32(s[1]) }
        out.bytes += fingerprint.bytes
        assert(out.bytes.count == AdapterFile.headerSize)
        for (i, x) in parameters.enumerated() {
            guard x.isFinite else { throw AdapterError("trained value \(i) is not finite (\(x))") }
            switch c.parameterDType {
            case .fp32: out.u32(Int(x.bitPattern))
            case .bf16: out.u16(Half.floatToBF16(x))
            case .fp16:
                let h = Half.floatToF16(x)
                guard Half.f16ToFloat(h).isFinite else { throw AdapterError("trained value \(i) (\(x)) overflows fp16") }
                out.u16(h)
            }
        }
        out.bytes += SHA256.hash(out.bytes)
        return out.bytes
    }

    /// Parses and validates file content (size, magic, versions, checksum, codes, shapes, finiteness).
    public static func decode(_ bytes: [UInt8]) throws -> AdapterFile {
        let minimum = headerSize + checksumSize
        guard bytes.count >= 8, Array(bytes[0 ..< 8]) == magic else {
            throw AdapterError("not a TinyLoRA adapter file (bad magic; expected \"TLADAPTR\")")
        }
        guard bytes.count >= minimum else {
            throw AdapterError("truncated adapter file: \(bytes.count) bytes, the header alone needs \(minimum)")
        }
        var r = ByteCursor(bytes: bytes, offset: 8)
        let version = r.u16()
        guard version == formatVersion else {
            throw AdapterError("unsupported adapter format version \(version) (this build reads \(formatVersion))")
        }
        let convention = r.u16()
        let methodCode = r.u8(), dtypeCode = r.u8(), tyingCode = r.u8(), mask = r.u8()
        let rank = r.u32(), u = r.u32(), tieSize = r.u32()
        let alpha = Float(bitPattern: UInt32(r.u32()))
        let ratio = Double(bitPattern: r.u64())
        let seed = r.u64()
        let layerCount = r.u32(), firstLayer = r.u32(), endLayer = r.u32()
        let moduleCount = r.u32(), groupCount = r.u32()
        _ = r.u32()
        let count = r.u64()
        var shapes: [[Int]] = []
        for _ in 0 ..< 7 { shapes.append([r.u32(), r.u32()]) }
        let fingerprint = try BaseFingerprint(bytes: Array(bytes[136 ..< 168]))
        r.offset = headerSize

        guard let dtype = ParameterDType(rawValue: dtypeCode) else {
            throw AdapterError("unknown value type code \(dtypeCode) in the adapter header")
        }
        guard count <= UInt64(1 << 40), bytes.count == minimum + Int(count) * dtype.byteWidth else {
            let expected = count <= UInt64(1 << 40) ? "\(minimum + Int(count) * dtype.byteWidth)" : "an impossible size"
            throw AdapterError("truncated or oversized adapter file: \(bytes.count) bytes, the header announces "
                + "\(count) \(dtype) values (\(expected) bytes)")
        }
        let body = bytes.count - checksumSize
        guard SHA256.hash(Array(bytes[0 ..< body])) == Array(bytes[body...]) else {
            throw AdapterError("corrupt adapter file: checksum mismatch")
        }
        guard convention == conventionVersion else {
            throw AdapterError("adapter convention version \(convention) is not supported (this build uses "
                + "\(conventionVersion))")
        }
        guard let method = AdapterMethod(rawValue: methodCode) else {
            throw AdapterError("unknown adapter method code \(methodCode)")
        }
        let tying: Tying
        switch tyingCode {
        case 0: tying = .none
        case 1: tying = .tiled(tieSize)
        case 2: tying = .all
        case 3: tying = .ratio(ratio)
        case 4: tying = .structured(tieSize)
        default: throw AdapterError("unknown tying code \(tyingCode)")
        }
        guard mask != 0, mask < 0x80 else { throw AdapterError("invalid target set 0x\(String(mask, radix: 16))") }
        guard layerCount <= 1 << 16, shapes.allSatisfy({ $0.allSatisfy { $0 <= 1 << 24 } }) else {
            throw AdapterError("implausible model size in the adapter header (\(layerCount) layers, shapes \(shapes))")
        }
        guard firstLayer < endLayer else { throw AdapterError("empty layer range \(firstLayer)..<\(endLayer)") }
        let configuration = AdapterConfiguration(
            method: method, rank: rank, u: u, alpha: alpha, tying: tying, seed: seed,
            targets: ModuleKind.kinds(mask: mask), layers: firstLayer ..< endLayer, parameterDType: dtype)
        var file = AdapterFile(configuration: configuration, layerCount: layerCount, shapes: shapes,
                               fingerprint: fingerprint, parameters: [])
        let plan = try file.plan()
        guard plan.modules.count == moduleCount, plan.groupCount == groupCount,
              plan.trainableParameterCount == Int(count)
        else {
            throw AdapterError("wrong shapes: the header announces \(moduleCount) modules, \(groupCount) groups and "
                + "\(count) values; its configuration gives \(plan.modules.count), \(plan.groupCount) and "
                + "\(plan.trainableParameterCount)")
        }
        var values = [Float](repeating: 0, count: Int(count))
        for i in 0 ..< values.count {
            let x: Float = switch dtype {
            case .fp32: Float(bitPattern: UInt32(r.u32()))
            case .bf16: Half.bf16ToFloat(r.u16())
            case .fp16: Half.f16ToFloat(r.u16())
            }
            guard x.isFinite else { throw AdapterError("trained value \(i) is not finite (\(x))") }
            values[i] = x
        }
        file.parameters = values
        return file
    }

    // MARK: files

    /// Writes atomically (temporary file, fsync, rename).
    public func write(to path: String) throws {
        let bytes = try encoded()
        let writer = try AtomicFileWriter(path: path)
        try writer.write(bytes)
        try writer.commit()
    }

    public static func read(path: String) throws -> AdapterFile {
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw AdapterError("\(path): cannot read: \(error.localizedDescription)")
        }
        do {
            return try decode([UInt8](data))
        } catch let error as AdapterError {
            throw AdapterError("\(path): \(error.description)")
        }
    }

    /// Throws unless the base model has the layer count and module shapes this adapter was built for.
    public func checkShapes(_ model: TransformerConfig) throws {
        guard model.layerCount == layerCount else {
            throw AdapterError("the adapter was built for a model with \(layerCount) layers; this one has "
                + "\(model.layerCount)")
        }
        for kind in ModuleKind.allCases {
            let s = kind.shape(model)
            guard shapes[kind.rawValue] == [s.out, s.in] else {
                throw AdapterError("the adapter was built for a model whose \(kind) projection is "
                    + "\(shapes[kind.rawValue]); this one's is [\(s.out), \(s.in)]")
            }
        }
    }

    /// Throws unless `base` was computed from the same weights.
    public func checkFingerprint(_ base: BaseFingerprint) throws {
        guard base == fingerprint else {
            throw AdapterError("this adapter was built from different base weights: adapter fingerprint "
                + "\(fingerprint), base model fingerprint \(base)")
        }
    }

    /// The adapter for `base`, after checking shapes and fingerprint.
    public func adapter(base: FrozenBase) throws -> Adapter {
        let plan = try plan()
        guard plan == base.plan else { throw AdapterError("the frozen base was built for a different plan") }
        try checkFingerprint(base.fingerprint)
        return try Adapter(base: base, parameters: parameters)
    }

    /// Reads `path`, checks it against the model, regenerates A, B (SVD of the model's weights) and P, checks the
    /// fingerprint and returns the adapter.
    public static func load(path: String, model: TransformerConfig, weights: WeightSource, threads: Int = 2) throws -> Adapter {
        let file = try read(path: path)
        do {
            try file.checkShapes(model)
            let base = try FrozenBase.build(plan: try file.plan(), model: model, weights: weights, threads: threads)
            return try file.adapter(base: base)
        } catch let error as AdapterError {
            throw AdapterError("\(path): \(error.description)")
        }
    }
}

/// Little-endian byte appender.
struct ByteWriter {
    var bytes: [UInt8] = []
    mutating func u8(_ x: UInt8) { bytes.append(x) }
    mutating func u16(_ x: UInt16) { for i in 0 ..< 2 { bytes.append(UInt8(truncatingIfNeeded: x >> (8 * i))) } }
    mutating func u32(_ x: Int) { for i in 0 ..< 4 { bytes.append(UInt8(truncatingIfNeeded: UInt32(truncatingIfNeeded: x) >> (8 * i))) } }
    mutating func u64(_ x: UInt64) { for i in 0 ..< 8 { bytes.append(UInt8(truncatingIfNeeded: x >> (8 * i))) } }
}

/// Little-endian reader over bytes whose length was checked beforehand.
struct ByteCursor {
    let bytes: [UInt8]
    var offset: Int
    mutating func u8() -> UInt8 { defer { offset += 1 }; return bytes[offset] }
    mutating func u16() -> UInt16 { UInt16(u8()) | UInt16(u8()) << 8 }
    mutating func u32() -> Int { Int(UInt32(u16()) | UInt32(u16()) << 16) }
    mutating func u64() -> UInt64 { UInt64(u32()) | UInt64(u32()) << 32 }
}
