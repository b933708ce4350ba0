import Foundation
import ModelFiles
import XCTest

/// Golden decodes from gguf-py (Fixtures/make_quant_fixture.py → quant_fixture.json), by the AVX-512 decoders
/// (where the CPU has them) and the portable ones.
final class DequantizeTests: XCTestCase {
    func testEveryTypeDecodesBitExactlyLikeGGUFPy() throws {
        let fixture = try loadJSONFixture("quant_fixture.json")
        let cases = try XCTUnwrap(fixture["decode"] as? [[String: Any]])
        var seen = Set<String>()
        for c in cases {
            let typeName = try XCTUnwrap(c["type"] as? String)
            let type = try XCTUnwrap(GGMLType.allCases.first { $0.name == typeName }, "unknown type \(typeName)")
            let bytes = hexBytes(try XCTUnwrap(c["bytes_hex"] as? String))
            let expected = try XCTUnwrap(c["values_bits"] as? [Int]).map { UInt32($0) }
            let count = try XCTUnwrap(c["count"] as? Int)
            XCTAssertEqual(expected.count, count)
            XCTAssertEqual(type.byteCount(elements: count), bytes.count, "\(typeName): fixture size")
            var out = [Float](repeating: .nan, count: count)
            try bytes.withUnsafeBytes { src in
                try out.withUnsafeMutableBufferPointer { try Dequantize.decode(type, src, count: count, into: $0.baseAddress!) }
            }
            var mismatches = 0
            for i in 0 ..< count where out[i].bitPattern != expected[i] {
                if mismatches < 5 {
                    XCTFail("\(typeName) (\(c["source"] ?? "")) element \(i): got \(out[i]) (0x\(String(out[i].bitPattern, radix: 16))), gguf-py \(Float(bitPattern: expected[i]))")
                }
                mismatches += 1
            }
            XCTAssertEqual(mismatches, 0, "\(typeName): \(mismatches) of \(count) elements differ")
            // The portable decoders give the same bits as the AVX-512 ones (used above where the CPU has them).
            var portable = [Float](repeating: .nan, count: count)
            try bytes.withUnsafeBytes { src in
                try portable.withUnsafeMutableBufferPointer {
                    try Dequantize.decode(type, src, count: count, into: $0.baseAddress!, vectorized: false)
                }
            }
            XCTAssertEqual(portable.map(\.bitPattern), out.map(\.bitPattern), "\(typeName): portable decode differs")
            // The same bytes decoded in two threads must give the same result.
            var par = [Float](repeating: .nan, count: count)
            try bytes.withUnsafeBytes { src in
                try par.withUnsafeMutableBufferPointer {
                    try Dequantize.decodeParallel(type, src, count: count, into: $0.baseAddress!, threads: 2)
                }
            }
            XCTAssertEqual(par.map(\.bitPattern), out.map(\.bitPattern), "\(typeName): parallel decode differs")
            seen.insert(typeName)
        }
        for name in ["F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"] {
            XCTAssertTrue(seen.contains(name), "fixture has no \(name) case")
        }
    }

    func testRejectsPartialBlocksShortBuffersAndUnsupportedTypes() throws {
        let bytes = [UInt8](repeating: 0, count: 64)
        let out = UnsafeMutablePointer<Float>.allocate(capacity: 256)
        defer { out.deallocate() }
        try bytes.withUnsafeBytes { src in
            do { let dst = UnsafeMutableBufferPointer(start: out, count: 256)
                XCTAssertThrowsError(try Dequantize.decode(.q4_0, src, count: 31, into: dst.baseAddress!)) {
                    XCTAssertTrue("\($0)".contains("not a whole number"), "\($0)")
                }
                XCTAssertThrowsError(try Dequantize.decode(.q4_K, src, count: 256, into: dst.baseAddress!)) {
                    XCTAssertTrue("\($0)".contains("cannot hold"), "\($0)")
                }
                XCTAssertThrowsError(try Dequantize.decode(.iq2_xxs, src, count: 0, into: dst.baseAddress!)) {
                    XCTAssertTrue("\($0)".contains("IQ2_XXS is not supported"), "\($0)")
                }
            }
        }
    }

    /// Whole real tensors decoded through GGUFFile (the parallel path) against gguf-py's full decode.
    func testRealTensorsMatchGGUFPy() throws {
        let fixture = try loadJSONFixture("quant_fixture.json")
        let full = try XCTUnwrap(fixture["full_tensors"] as? [[String: Any]])
        XCTAssertGreaterThanOrEqual(full.count, 2)
        for t in full {
            let model = try XCTUnwrap(t["model"] as? String), name = try XCTUnwrap(t["tensor"] as? String)
            let file = try GGUFFile(path: try realModelPath(model))
            let info = try XCTUnwrap(file.tensorInfo(name), "\(model) has no \(name)")
            XCTAssertEqual(info.type.name, t["type"] as? String)
            let values = try file.dequantize(info)
            XCTAssertEqual(values.count, t["count"] as? Int)
            for s in try XCTUnwrap(t["samples"] as? [[Int]]) {
                XCTAssertEqual(values[s[0]].bitPattern, UInt32(s[1]), "\(name)[\(s[0])]")
            }
            // Summed in the same order as numpy's float64 pairwise sum is not guaranteed; a tiny relative
            // tolerance still catches any wrong block.
            let sum = values.reduce(0.0) { $0 + Double($1) }
            let expected = try XCTUnwrap(t["sum"] as? Double)
            XCTAssertEqual(sum, expected, accuracy: 1e-9 * max(1, abs(expected)) + 1e-6, "\(model) \(name) sum")
        }
    }

    /// Row decoding (embedding lookup) equals the matching slice of the whole tensor.
    func testRowDecodeMatchesWholeTensor() throws {
        let file = try GGUFFile(path: try realModelPath("SmolLM2-135M-Instruct.Q4_1.gguf"))
        for name in ["token_embd.weight", "blk.0.ffn_down.weight", "blk.0.attn_norm.weight"] {
            let info = try XCTUnwrap(file.tensorInfo(name))
            let whole = try file.dequantize(info)
            let n = info.dims[0], rowCount = info.elementCount / n
            for rows in [0 ..< 1, rowCount - 1 ..< rowCount, rowCount / 3 ..< rowCount / 3 + min(3, rowCount - rowCount / 3)] {
                var out = [Float](repeating: .nan, count: rows.count * n)
                try out.withUnsafeMutableBufferPointer { try file.dequantizeRows(info, rows, into: $0.baseAddress!) }
                XCTAssertEqual(out, Array(whole[rows.lowerBound * n ..< rows.upperBound * n]), "\(name) rows \(rows)")
            }
            var sink = [Float](repeating: 0, count: n)
            XCTAssertThrowsError(try sink.withUnsafeMutableBufferPointer { try file.dequantizeRows(info, rowCount ..< rowCount + 1, into: $0.baseAddress!) }) {
                XCTAssertTrue("\($0)".contains("out of range"), "\($0)")
            }
        }
    }

    /// Decodes every tensor of the 0.5B model to fp32 and reports the time (target: ~1-2 s in release).
    func testWholeQwenModelDecodes() throws {
        let path = try realModelPath("Qwen2.5-Coder-0.5B-Instruct.gguf")
        let opened = Date()
        let file = try GGUFFile(path: path)
        print("opened \(path) (\(file.metadata.count) metadata keys) in \(String(format: "%.3f", Date().timeIntervalSince(opened))) s")
        let start = Date()
        var elements = 0
        for info in file.tensors {
            let v = try file.dequantize(info)
            elements += v.count
            XCTAssertTrue(v[0].isFinite && v[v.count - 1].isFinite, "\(info.name)")
        }
        let seconds = Date().timeIntervalSince(start)
        print("decoded \(file.tensors.count) tensors, \(elements) elements in \(String(format: "%.2f", seconds)) s")
        XCTAssertEqual(elements, 630_167_424)
    }
}
