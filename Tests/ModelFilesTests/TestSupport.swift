import Foundation
import XCTest

/// The Fixtures folder copied into the test bundle.
func fixturesURL() throws -> URL {
    try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil), "Fixtures folder missing from the test bundle")
}

/// A JSON fixture file parsed with JSONSerialization.
func loadJSONFixture(_ name: String) throws -> [String: Any] {
    let data = try Data(contentsOf: try fixturesURL().appendingPathComponent(name))
    return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any], "\(name) is not a JSON object")
}

func hexBytes(_ hex: String) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(hex.utf8.count / 2)
    var hi: UInt8 = 0
    for (i, c) in hex.utf8.enumerated() {
        let v: UInt8 = c <= 57 ? c - 48 : (c | 0x20) - 87
        if i % 2 == 0 { hi = v } else { out.append(hi << 4 | v) }
    }
    return out
}

/// The path of a real model in $TINYLORA_HOME/models (default ~/.cache/tinylora/models); fails the test
/// with a clear message if it is missing.
func realModelPath(_ file: String) throws -> String {
    let home = ProcessInfo.processInfo.environment["TINYLORA_HOME"]
        ?? (NSHomeDirectory() as NSString).appendingPathComponent(".cache/tinylora")
    let path = ((home as NSString).appendingPathComponent("models") as NSString).appendingPathComponent(file)
    guard FileManager.default.fileExists(atPath: path) else {
        XCTFail("real model \(path) is missing: fetch the models first (TINYLORA_HOME=\(home))")
        throw XCTSkip("missing \(path)")
    }
    return path
}

/// A fresh empty directory under the system temporary directory.
func makeTempDir() throws -> String {
    let dir = (NSTemporaryDirectory() as NSString).appendingPathComponent("modelfiles-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
}

/// Writes bytes to a file with plain POSIX calls (Foundation's Data.write syncs to disk and is ~100x slower).
func writeBytes(_ bytes: [UInt8], to path: String) throws {
    guard let f = fopen(path, "wb") else { throw CocoaError(.fileWriteUnknown) }
    defer { fclose(f) }
    guard bytes.isEmpty || fwrite(bytes, 1, bytes.count, f) == bytes.count else { throw CocoaError(.fileWriteUnknown) }
}
