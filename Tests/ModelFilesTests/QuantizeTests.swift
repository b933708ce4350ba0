import Foundation
import ModelFiles
import XCTest

/// Encoders against the bytes gguf-py's quantize writes (Fixtures/make_quant_fixture.py, "encode").
final class QuantizeTests: XCTestCase {
    func testEncodersMatchGGUFPyBytes() throws {
        let fixture = try loadJSONFixture("quant_fixture.json")
        let cases = try XCTUnwrap(fixture["encode"] as? [[String: Any]])
        XCTAssertEqual(Set(cases.compactMap { $0["type"] as? String }), ["F16", "BF16", "Q8_0"])
        for c in cases {
            let typeName = try XCTUnwrap(c["type"] as? String)
            let type = try XCTUnwrap(GGMLType.allCases.first { $0.name == typeName })
            let input = try XCTUnwrap(c["input_bits"] as? [Int]).map { Float(bitPattern: UInt32($0)) }
            let expected = hexBytes(try XCTUnwrap(c["bytes_hex"] as? String))
            let got = try Quantize.encode(type, input)
            XCTAssertEqual(got.count, expected.count, typeName)
            let size = type.typeSize
            for i in stride(from: 0, to: min(got.count, expected.count), by: size) where got[i ..< i + size] != expected[i ..< i + size] {
                XCTFail("\(typeName) block \(i / size): got \(Array(got[i ..< i + size])), gguf-py \(Array(expected[i ..< i + size]))")
                break
            }
        }
    }

    func testQ8_0RoundTripIsWithinHalfAStep() throws {
        let values = (0 ..< 64).map { Float(sin(Double($0) * 0.7)) * 0.05 }
        let bytes = try Quantize.encode(.q8_0, values)
        var back = [Float](repeating: 0, count: 64)
        try bytes.withUnsafeBytes { src in
            try back.withUnsafeMutableBufferPointer { try Dequantize.decode(.q8_0, src, count: 64, into: $0.baseAddress!) }
        }
        for i in 0 ..< 64 { XCTAssertEqual(back[i], values[i], accuracy: 0.05 / 127, "element \(i)") }
    }

    func testEncoderRejectsBadInput() {
        XCTAssertThrowsError(try Quantize.encode(.q8_0, [Float](repeating: 1, count: 31))) {
            XCTAssertTrue("\($0)".contains("not a whole number"), "\($0)")
        }
        XCTAssertThrowsError(try Quantize.encode(.q8_0, [Float](repeating: .infinity, count: 32))) {
            XCTAssertTrue("\($0)".contains("non-finite"), "\($0)")
        }
        XCTAssertThrowsError(try Quantize.encode(.q4_K, [Float](repeating: 1, count: 256))) {
            XCTAssertTrue("\($0)".contains("cannot encode tensors as Q4_K"), "\($0)")
        }
    }
}
