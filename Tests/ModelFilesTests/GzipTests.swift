import Foundation
import ModelFiles
import XCTest

final class GzipTests: XCTestCase {
    func fixture() throws -> (path: String, bytes: [UInt8], text: String) {
        let json = try loadJSONFixture("gzip_fixture.json")
        let path = try fixturesURL().appendingPathComponent(try XCTUnwrap(json["file"] as? String)).path
        return (path, try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))), try XCTUnwrap(json["text"] as? String))
    }

    func testDecompressesConcatenatedMembers() throws {
        let (path, bytes, text) = try fixture()
        XCTAssertEqual(String(decoding: try Gzip.decompress(path: path), as: UTF8.self), text)
        // Zero padding after the last member is ignored.
        let padded = bytes + [UInt8](repeating: 0, count: 512)
        XCTAssertEqual(try padded.withUnsafeBytes { try Gzip.decompress($0) }, Array(text.utf8))
    }

    func testCorruptTruncatedAndForeignDataGiveClearErrors() throws {
        let (_, bytes, text) = try fixture()
        func check(_ data: [UInt8], _ needle: String, line: UInt = #line) {
            XCTAssertThrowsError(try data.withUnsafeBytes { try Gzip.decompress($0, context: "x.gz") }, line: line) {
                XCTAssertTrue("\($0)".contains(needle) && "\($0)".contains("x.gz"), "\($0)", line: line)
            }
        }
        check(Array("plain text".utf8), "not gzip data")
        check([], "not gzip data")
        for cut in [10, 40, bytes.count / 2, bytes.count - 4] { check(Array(bytes[..<cut]), "truncated") }
        var crc = bytes
        crc[crc.count - 6] ^= 0xFF  // the second member's CRC-32
        check(crc, "corrupt gzip data in member 2")
        var body = bytes
        body[30] ^= 0x55
        check(body, "corrupt gzip data in member 1")
        check(bytes + Array("junk".utf8), "trailing garbage")
        XCTAssertThrowsError(try bytes.withUnsafeBytes { try Gzip.decompress($0, maxBytes: text.utf8.count - 1) }) {
            XCTAssertTrue("\($0)".contains("exceeds the limit"), "\($0)")
        }
        XCTAssertThrowsError(try Gzip.decompress(path: "/nonexistent/file.gz")) {
            XCTAssertTrue("\($0)".contains("cannot open /nonexistent/file.gz"), "\($0)")
        }
    }
}
