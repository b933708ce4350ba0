import Foundation
import XCTest

/// Reads `Fixtures/<name>` (copied into the test bundle) as a JSON object.
func loadFixtureJSON(_ name: String) throws -> [String: Any] {
    let folder = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil),
                               "the Fixtures folder is missing from the test bundle")
    let data = try Data(contentsOf: folder.appendingPathComponent(name))
    return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any], "\(name) is not a JSON object")
}

/// Decimal strings to UInt64 (the fixture scripts write 64-bit integers as strings so no parser rounds them).
func uint64s(_ value: Any?) throws -> [UInt64] {
    let strings = try XCTUnwrap(value as? [String])
    return try strings.map { try XCTUnwrap(UInt64($0), "not a UInt64: \($0)") }
}

/// IEEE-754 bit patterns in hex to Double.
func doubleFromBits(_ hex: String) throws -> Double {
    Double(bitPattern: try XCTUnwrap(UInt64(hex, radix: 16), "not a hex bit pattern: \(hex)"))
}
