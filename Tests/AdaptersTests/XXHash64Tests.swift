import Adapters
import Foundation
import XCTest

/// XXH64 against the reference `xxhash` package (fixture written by Fixtures/make_xxh64.py).
final class XXHash64Tests: XCTestCase {
    struct Fixture: Decodable {
        struct Case: Decodable { let index: Int; let length: Int; let seed: UInt64; let digest: String }
        let cases: [Case]
    }

    func testMatchesReference() throws {
        let url = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
            .appendingPathComponent("xxh64.json")
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        XCTAssertEqual(fixture.cases.count, 38)
        for c in fixture.cases {
            let data = (0 ..< c.length).map { UInt8((($0 * 31) + 7 + c.index) % 256) }
            let h = XXHash64.hash(data, seed: c.seed)
            XCTAssertEqual(String(h, radix: 16).leftPadded(16), c.digest, "length \(c.length) seed \(c.seed)")
        }
    }
}

extension String {
    func leftPadded(_ width: Int) -> String { String(repeating: "0", count: max(0, width - count)) + self }
}
