import Dispatch
import Numerics

/// Decoders from GGUF tensor storage to fp32. Block layouts are documented in LegacyQuants.swift (32-element
/// blocks) and KQuants.swift (256-element super-blocks); results are bit-identical to ggml/gguf-py.
public enum Dequantize {
    /// Types `decode` accepts.
    public static let supportedTypes: Set<GGMLType> = [
        .f32, .f16, .bf16, .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K,
    ]

    /// Decodes `count` elements of `type` from `src` into `dst`. `count` must be a whole number of blocks
    /// and `src` must hold at least their bytes. Any whole-block slice of a tensor can be decoded on its own.
    /// `vectorized` uses the AVX-512 decoders (`BlockDecode`, same bits) for the types and CPUs they cover.
    public static func decode(_ type: GGMLType, _ src: UnsafeRawBufferPointer, count: Int,
                              into dst: UnsafeMutablePointer<Float>, vectorized: Bool = true) throws {
        guard let need = type.byteCount(elements: count) else {
            throw ModelFileError("\(type.name): \(count) elements is not a whole number of \(type.blockSize)-element blocks")
        }
        guard need <= src.count else {
            throw ModelFileError("\(type.name): \(src.count) bytes cannot hold \(count) elements (\(need) bytes needed)")
        }
        guard supportedTypes.contains(type) else {
            throw ModelFileError("tensor type \(type.name) is not supported (supported: \(supportedNames))")
        }
        if count == 0 { return }
        let p = src.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let blocks = count / type.blockSize
        if vectorized, BlockDecode.decode(typeCode: type.rawValue, p, blocks: blocks, into: dst) { return }
        switch type {
        case .f32:
            UnsafeMutableRawPointer(dst).copyMemory(from: p, byteCount: 4 * count)
        case .f16:
            for i in 0 ..< count { dst[i] = Half.f16ToFloat(UInt16(p[2 * i]) | UInt16(p[2 * i + 1]) << 8) }
        case .bf16:
            for i in 0 ..< count { dst[i] = Half.bf16ToFloat(UInt16(p[2 * i]) | UInt16(p[2 * i + 1]) << 8) }
        case .q4_0: LegacyQuants.decodeQ4_0(p, blocks: blocks, into: dst)
        case .q4_1: LegacyQuants.decodeQ4_1(p, blocks: blocks, into: dst)
        case .q5_0: LegacyQuants.decodeQ5_0(p, blocks: blocks, into: dst)
        case .q5_1: LegacyQuants.decodeQ5_1(p, blocks: blocks, into: dst)
        case .q8_0: LegacyQuants.decodeQ8_0(p, blocks: blocks, into: dst)
        case .q2_K: KQuants.decodeQ2_K(p, blocks: blocks, into: dst)
        case .q3_K: KQuants.decodeQ3_K(p, blocks: blocks, into: dst)
        case .q4_K: KQuants.decodeQ4_K(p, blocks: blocks, into: dst)
        case .q5_K: KQuants.decodeQ5_K(p, blocks: blocks, into: dst)
        case .q6_K: KQuants.decodeQ6_K(p, blocks: blocks, into: dst)
        default:
            throw ModelFileError("tensor type \(type.name) is not supported (supported: \(supportedNames))")
        }
    }

    /// Like `decode`, but splits work of more than `parallelThreshold` elements into `threads` chunks of whole
    /// blocks decoded concurrently.
    public static func decodeParallel(_ type: GGMLType, _ src: UnsafeRawBufferPointer, count: Int,
                                      into dst: UnsafeMutablePointer<Float>, threads: Int = 2) throws {
        guard threads > 1, count >= parallelThreshold, let need = type.byteCount(elements: count), need <= src.count,
              supportedTypes.contains(type)
        else {
            return try decode(type, src, count: count, into: dst)
        }
        let blocks = count / type.blockSize
        let perChunk = (blocks + threads - 1) / threads
        let dstAddress = UInt(bitPattern: dst)
        DispatchQueue.concurrentPerform(iterations: threads) { t in
            let first = t * perChunk
            let n = min(perChunk, blocks - first)
            guard n > 0 else { return }
            let bytes = UnsafeRawBufferPointer(rebasing: src[first * type.typeSize ..< (first + n) * type.typeSize])
            let out = UnsafeMutablePointer<Float>(bitPattern: dstAddress)! + first * type.blockSize
            // Cannot fail: type, sizes and block alignment were checked above.
            try? decode(type, bytes, count: n * type.blockSize, into: out)
        }
    }

    /// Below this many elements a tensor is decoded on the calling thread (thread wake-up costs ~150 µs).
    public static let parallelThreshold = 1 << 18

    static var supportedNames: String {
        supportedTypes.sorted { $0.rawValue < $1.rawValue }.map(\.name).joined(separator: ", ")
    }
}
