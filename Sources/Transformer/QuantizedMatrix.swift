import ModelFiles
import Numerics

/// A linear layer's weight `W` `[outFeatures, inFeatures]` kept as the GGUF file's own quantized blocks, with the
/// product `y[M, out] (+)= x[M, in]·Wᵀ` computed from them, so memory holds only the encoded bytes (e.g. 0.56 bytes
/// per weight for Q4_1 instead of 4 in fp32): for M ≤ 4 by integer dot products on the blocks with x rounded to
/// 16 bits per group of 32 (`QuantizedDot`, on CPUs with AVX-512 VNNI, for the types it handles), otherwise through
/// `PanelMatMul` (a panel of rows decoded at a time into a small per-thread scratch; exact fp32 products of the
/// decoded weights for M ≤ 4, bf16 products above).
///
/// Storage: `outFeatures` rows of `rowBytes = (inFeatures / blockSize)·typeSize` bytes, each row the blocks of
/// one output feature's `inFeatures` weights (GGUF stores an `[in, out]` tensor innermost-first, which is HF
/// `[out, in]` row-major). `rowOrder[o]` (when set) is the stored row that holds output feature `o`: llama GGUF
/// files store Q and K with their rows permuted (`QKPermutation`), and the HF order is restored by decoding
/// rows in that order. Decoding is `Dequantize.decode`, bit-identical to ggml, so `decodeRows` equals the fp32
/// weights the model loads from the same file.
///
/// The bytes stay in the mapped file (`owner` keeps the mapping alive) unless `copying` was used.
public final class QuantizedMatrix: @unchecked Sendable {
    public let type: GGMLType
    public let outFeatures: Int
    public let inFeatures: Int
    /// Bytes per stored row.
    public let rowBytes: Int
    /// For each output feature, the stored row holding it (nil: the identity).
    public let rowOrder: [Int]?
    /// `rowOrder` as the C kernels take it.
    let rowOrder32: [Int32]?
    let data: UnsafeRawPointer
    let owner: AnyObject?
    let ownsData: Bool

    /// Types this matrix accepts: the block-quantized ones `Dequantize` decodes (F32/F16/BF16 tensors are
    /// loaded as fp32 instead).
    public static let supportedTypes: Set<GGMLType> = Dequantize.supportedTypes.filter { $0.blockSize > 1 }

    /// Wraps `bytes` (which `owner` keeps valid) without copying. Throws when the type is not a supported
    /// quantized type, `inFeatures` is not a whole number of blocks, the byte count does not match the shape,
    /// or `rowOrder` is not a permutation of the rows.
    public convenience init(type: GGMLType, outFeatures: Int, inFeatures: Int, bytes: UnsafeRawBufferPointer, owner: AnyObject?,
                rowOrder: [Int]? = nil) throws {
        try self.init(type: type, outFeatures: outFeatures, inFeatures: inFeatures, bytes: bytes, rowOrder: rowOrder,
                      owner: owner, copy: false)
    }

    /// Copies `bytes` (for tensors that do not live in a mapped file).
    public convenience init(type: GGMLType, outFeatures: Int, inFeatures: Int, copying bytes: UnsafeRawBufferPointer,
                            rowOrder: [Int]? = nil) throws {
        try self.init(type: type, outFeatures: outFeatures, inFeatures: inFeatures, bytes: bytes, rowOrder: rowOrder,
                      owner: nil, copy: true)
    }

    private init(type: GGMLType, outFeatures: Int, inFeatures: Int, bytes: UnsafeRawBufferPointer, rowOrder: [Int]?,
                 owner: AnyObject?, copy: Bool) throws {
        guard Self.supportedTypes.contains(type) else {
            throw TransformerError("quantized weights: type \(type.name) is not a supported block quantization "
                + "(\(Self.supportedTypes.map(\.name).sorted().joined(separator: ", ")))")
        }
        guard outFeatures > 0, inFeatures > 0, let rowBytes = type.byteCount(elements: inFeatures) else {
            throw TransformerError("quantized weights: shape [\(outFeatures), \(inFeatures)] is not whole \(type.name) blocks of \(type.blockSize)")
        }
        let (total, overflow) = rowBytes.multipliedReportingOverflow(by: outFeatures)
        guard !overflow, total == bytes.count else {
            throw TransformerError("quantized weights: \(bytes.count) bytes for \(type.name) [\(outFeatures), \(inFeatures)] (expected \(rowBytes) per row)")
        }
        if let rowOrder {
            guard rowOrder.count == outFeatures, Set(rowOrder).count == outFeatures,
                  rowOrder.allSatisfy({ (0 ..< outFeatures).contains($0) }) else {
                throw TransformerError("quantized weights: the row order is not a permutation of \(outFeatures) rows")
            }
        }
        self.type = type
        self.outFeatures = outFeatures
        self.inFeatures = inFeatures
        self.rowBytes = rowBytes
        self.rowOrder = rowOrder
        rowOrder32 = rowOrder?.map { Int32($0) }
        if copy {
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: total, alignment: 64)
            buffer.copyMemory(from: bytes.baseAddress!, byteCount: total)
            data = UnsafeRawPointer(buffer)
        } else {
            data = bytes.baseAddress!
        }
        self.owner = owner
        ownsData = copy
    }

    deinit {
        if ownsData { UnsafeMutableRawPointer(mutating: data).deallocate() }
    }

    /// Bytes of the encoded weights.
    public var byteCount: Int { rowBytes * outFeatures }

    /// Decodes output features `rows` into `dst` (`[rows.count, inFeatures]` fp32, HF order).
    public func decodeRows(_ rows: Range<Int>, into dst: UnsafeMutablePointer<Float>) {
        precondition(rows.lowerBound >= 0 && rows.upperBound <= outFeatures, "quantized rows \(rows) out of range")
        // Cannot throw: type, block alignment and byte counts were checked on construction.
        if let rowOrder {
            for (i, o) in rows.enumerated() {
                let src = UnsafeRawBufferPointer(start: data + rowOrder[o] * rowBytes, count: rowBytes)
                try? Dequantize.decode(type, src, count: inFeatures, into: dst + i * inFeatures)
            }
        } else {
            let src = UnsafeRawBufferPointer(start: data + rows.lowerBound * rowBytes, count: rows.count * rowBytes)
            try? Dequantize.decode(type, src, count: rows.count * inFeatures, into: dst)
        }
    }

    /// All weights in fp32 `[outFeatures, inFeatures]` (HF order).
    public func dequantized() -> [Float] {
        [Float](unsafeUninitializedCapacity: outFeatures * inFeatures) { buffer, count in
            HugePages.advise(buffer.baseAddress!, count: outFeatures * inFeatures)
            decodeRows(0 ..< outFeatures, into: buffer.baseAddress!)
            count = outFeatures * inFeatures
        }
    }

    /// `y[m, outFeatures] = x[m, inFeatures]·Wᵀ + (accumulate ? y : 0)`. For m ≤ 4 x is rounded to 16 bits per
    /// group (`QuantizedDot`) unless `integerDot` is false or the CPU/type lacks it (then exact fp32 products of the
    /// decoded weights); for m > 4 the decoded weights and x are rounded to bf16 unless `bf16` is false or the CPU
    /// lacks AVX-512 BF16 (see `PanelMatMul`).
    public func xWt(_ x: UnsafePointer<Float>, rows m: Int, into y: UnsafeMutablePointer<Float>,
                    accumulate: Bool = false, threads: Int = 2, bf16: Bool = BFloat16.isSupported,
                    integerDot: Bool = QuantizedDot.isSupported) {
        if integerDot, m >= 1, m <= QuantizedDot.maxRows, QuantizedDot.supports(typeCode: type.rawValue) {
            rowOrder32.withUnsafeBufferPointerIfPresent { order in
                QuantizedDot.xWt(typeCode: type.rawValue, base: data, rowBytes: rowBytes, order: order,
                                 outFeatures: outFeatures, inFeatures: inFeatures, x, rows: m, into: y,
                                 accumulate: accumulate, threads: threads)
            }
            return
        }
        PanelMatMul.xWt(x, rows: m, outFeatures: outFeatures, inFeatures: inFeatures,
                        decodeRows: { self.decodeRows($0, into: $1) },
                        packBlock: { self.packBF16Block(first: $0, rows: $1, into: $2) }, into: y,
                        accumulate: accumulate, threads: threads, bf16: bf16)
    }

    /// Output features `first ..< first + rows` (≤ 16) decoded straight into one bf16 block of `PackedBF16Matrix`'s
    /// layout (`BlockDecode.packBF16Block`); false when there is no vector decoder for this type or CPU.
    func packBF16Block(first: Int, rows: Int, into packed: UnsafeMutablePointer<UInt16>) -> Bool {
        withUnsafeTemporaryAllocation(of: UnsafePointer<UInt8>?.self, capacity: 16) { pointers in
            let base = data.assumingMemoryBound(to: UInt8.self)
            for i in 0 ..< rows {
                pointers[i] = base + (rowOrder?[first + i] ?? first + i) * rowBytes
            }
            return BlockDecode.packBF16Block(typeCode: type.rawValue, rowPointers: pointers.baseAddress!, rows: rows,
                                             k: inFeatures, into: packed)
        }
    }
}

extension Optional where Wrapped == [Int32] {
    /// `body` with the array's base address, or nil when there is no array.
    fileprivate func withUnsafeBufferPointerIfPresent<R>(_ body: (UnsafePointer<Int32>?) -> R) -> R {
        guard let array = self else { return body(nil) }
        return array.withUnsafeBufferPointer { body($0.baseAddress) }
    }
}
