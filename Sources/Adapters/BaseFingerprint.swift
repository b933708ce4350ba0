import ModelFiles

/// A fingerprint of the base weights an adapter was built from (32 bytes, shown as 64 hex digits).
///
/// Definition (version 1): SHA-256 of the concatenation, over the target modules in model order, of
/// `layer` (u32 LE) ‖ `kind` (u8: q 0, k 1, v 2, o 3, gate 4, up 5, down 6) ‖ `out` (u32 LE) ‖ `in` (u32 LE) ‖
/// XXH64 with seed 0 (u64 LE) of the module's dequantized fp32 weight `[out, in]` in HF layout, row-major,
/// little-endian bytes. (XXH64 rather than SHA-256 for the 1.4 GB of weights of a 0.5B model: ~0.2 s instead of
/// ~4.6 s of CPU; the fingerprint guards against mistakes, not against forgery.)
/// It depends only on the fp32 values (not on the file format), so the same weights stored as GGUF F32 or
/// safetensors give the same fingerprint, while a different quantization of the same model does not (its SVD
/// factors differ too). The per-module digests are computed while the weights are loaded for the SVD, two modules
/// at a time.
public struct BaseFingerprint: Equatable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws {
        guard bytes.count == 32 else { throw AdapterError("a base fingerprint has 32 bytes, not \(bytes.count)") }
        self.bytes = bytes
    }

    public var description: String { SHA256.hex(bytes) }

    /// XXH64 (seed 0) of one module's fp32 weight as 8 little-endian bytes (host byte order is little-endian on
    /// every supported machine).
    public static func digest(of weight: UnsafeBufferPointer<Float>) -> [UInt8] {
        let h = XXHash64.hash(UnsafeRawBufferPointer(weight))
        return (0 ..< 8).map { UInt8(truncatingIfNeeded: h >> (8 * $0)) }
    }

    /// Combines the per-module digests (same order as `modules`).
    public static func combine(_ modules: [TargetModule], digests: [[UInt8]]) -> BaseFingerprint {
        var h = SHA256()
        for (m, d) in zip(modules, digests) {
            var record: [UInt8] = []
            append32(UInt32(m.layer), to: &record)
            record.append(UInt8(m.kind.rawValue))
            append32(UInt32(m.outFeatures), to: &record)
            append32(UInt32(m.inFeatures), to: &record)
            record += d
            h.update(record)
        }
        return try! BaseFingerprint(bytes: h.finalize())
    }

    private static func append32(_ x: UInt32, to bytes: inout [UInt8]) {
        for i in 0 ..< 4 { bytes.append(UInt8(truncatingIfNeeded: x >> (8 * i))) }
    }
}
