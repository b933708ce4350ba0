import Foundation
import ModelFiles
import XCTest

final class SHA256Tests: XCTestCase {
    // FIPS 180-2 / NIST CSRC example vectors for SHA-256.
    func testNISTVectors() {
        XCTAssertEqual(SHA256.hexDigest(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hexDigest("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(
            SHA256.hexDigest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(
            SHA256.hexDigest("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
    }

    func testMillionA() {
        let a = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        XCTAssertEqual(SHA256.hex(SHA256.hash(a)), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// Feeding the message in uneven pieces (crossing block boundaries, including the 55/56/64-byte padding
    /// edges) gives the same digest as one call.
    func testStreamingEqualsOneShot() {
        var rng = SystemRandomNumberGenerator()
        for length in [0, 1, 55, 56, 63, 64, 65, 119, 120, 127, 128, 1000, 4099] {
            let message = (0 ..< length).map { _ in UInt8.random(in: 0 ... 255, using: &rng) }
            let oneShot = SHA256.hash(message)
            var h = SHA256()
            var i = 0
            var step = 1
            while i < length {
                let end = min(length, i + step)
                h.update(Array(message[i ..< end]))
                i = end
                step = step % 70 + 7
            }
            XCTAssertEqual(h.finalize(), oneShot, "length \(length)")
        }
    }

    /// Cross-check against the system's sha256sum (coreutils) on a file of random bytes, through the file API.
    func testFileDigestMatchesCoreutils() throws {
        let tool = "/usr/bin/sha256sum"
        guard FileManager.default.isExecutableFile(atPath: tool) else { throw XCTSkip("no \(tool)") }
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sha256-\(getpid())")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("random.bin").path
        // xorshift64 bytes: cheap, and not a repeating pattern.
        var x: UInt64 = 0x9E37_79B9_7F4A_7C15
        let bytes = (0 ..< (9 << 20) + 17).map { _ -> UInt8 in
            x ^= x << 13; x ^= x >> 7; x ^= x << 17
            return UInt8(truncatingIfNeeded: x >> 24)
        }
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        var calls = 0
        var last = (0, 0)
        let ours = try SHA256.hexDigest(ofFile: path) { done, total in calls += 1; last = (done, total) }
        XCTAssertGreaterThan(calls, 1)
        XCTAssertEqual(last.0, bytes.count)
        XCTAssertEqual(last.1, bytes.count)

        let p = Process()
        p.executableURL = URL(fileURLWithPath: tool)
        p.arguments = [path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let text = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        XCTAssertEqual(ours, String(text.prefix(64)))
    }

    func testMissingFileThrows() {
        XCTAssertThrowsError(try SHA256.hexDigest(ofFile: "/nonexistent/file.bin")) { error in
            XCTAssertTrue("\(error)".contains("/nonexistent/file.bin"), "\(error)")
        }
    }

    /// Throughput in release builds, in CPU time of this thread (the machine may be shared): 64 MiB must hash
    /// at well over 100 MiB/s so a 500 MB model verifies in a few seconds.
    func testThroughput() {
        let bytes = [UInt8](repeating: 0x5a, count: 64 << 20)
        func cpuSeconds() -> Double {
            var ts = timespec()
            clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
            return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
        }
        let start = cpuSeconds()
        _ = SHA256.hash(bytes)
        let mbPerSecond = 64.0 / (cpuSeconds() - start)
        print("SHA256 throughput: \(Int(mbPerSecond)) MiB/s of CPU time")
        #if !DEBUG
        XCTAssertGreaterThan(mbPerSecond, 100, "SHA-256 is too slow for fetching 500 MB models")
        #endif
    }
}
