import Foundation
import Numerics
import Training
import XCTest

final class CheckpointStoreTests: XCTestCase {
    var dir: TemporaryDirectory!
    override func setUpWithError() throws { dir = try TemporaryDirectory("checkpoints") }
    override func tearDown() { dir.remove() }

    func payload(_ step: Int) -> [String: Data] {
        ["adapter.tlra": Data((0 ..< 100 + step).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ step) }),
         "state.json": Data("{\"step\":\(step)}".utf8)]
    }

    func stepsOnDisk(_ store: CheckpointStore) throws -> [Int] { try store.stepDirectories().map(\.step) }

    func testSaveLoadAndKeepNewestK() throws {
        let store = CheckpointStore(runDirectory: dir.url, keep: 3)
        XCTAssertNil(try store.latest())
        for step in [10, 20, 30, 40, 50] {
            let url = try store.save(step: step, files: payload(step))
            XCTAssertEqual(url.lastPathComponent, CheckpointStore.directoryName(step: step))
        }
        XCTAssertEqual(try stepsOnDisk(store), [30, 40, 50])
        XCTAssertEqual(CheckpointStore.directoryName(step: 40), "step-000040")
        let names = try FileManager.default.contentsOfDirectory(atPath: store.directory.path).sorted()
        XCTAssertEqual(names, ["step-000030", "step-000040", "step-000050"], "no temporary directories left")
        let loaded = try XCTUnwrap(try store.latest())
        XCTAssertEqual(loaded.step, 50)
        XCTAssertEqual(loaded.files, payload(50))
        XCTAssertTrue(loaded.skipped.isEmpty)
    }

    func testCorruptOrTruncatedNewestFallsBackAndSaysWhich() throws {
        let store = CheckpointStore(runDirectory: dir.url, keep: 3)
        for step in [1, 2, 3] { try store.save(step: step, files: payload(step)) }
        // Truncate the newest adapter; flip a byte in the next one's state.
        let newest = store.directory.appendingPathComponent("step-000003/adapter.tlra")
        try payload(3)["adapter.tlra"]!.prefix(10).write(to: newest)
        let second = store.directory.appendingPathComponent("step-000002/state.json")
        var bytes = payload(2)["state.json"]!
        bytes[3] ^= 1
        try bytes.write(to: second)
        let loaded = try XCTUnwrap(try store.latest())
        XCTAssertEqual(loaded.step, 1)
        XCTAssertEqual(loaded.files, payload(1))
        XCTAssertEqual(loaded.skipped.map(\.step), [3, 2])
        XCTAssertTrue(loaded.skipped[0].reason.contains("adapter.tlra has 10 bytes, the manifest says 103"), loaded.skipped[0].reason)
        XCTAssertTrue(loaded.skipped[1].reason.contains("state.json does not match its SHA-256"), loaded.skipped[1].reason)
        // A directory without a manifest (a save interrupted by hand) is skipped too; when nothing is usable, an error.
        try FileManager.default.removeItem(at: store.directory.appendingPathComponent("step-000001/manifest.json"))
        XCTAssertThrowsError(try store.latest()) { error in
            let m = String(describing: error)
            XCTAssertTrue(m.contains("no usable checkpoint") && m.contains("step-000001: manifest.json is missing"), m)
        }
    }

    func testFailedWriteLeavesPreviousCheckpointsIntact() throws {
        let good = CheckpointStore(runDirectory: dir.url, keep: 2)
        try good.save(step: 10, files: payload(10))
        try good.save(step: 20, files: payload(20))
        // A writer that sends the second file to /dev/full: the real write(2) fails with ENOSPC.
        let calls = Counter()
        let full = CheckpointStore(directory: good.directory, keep: 2) { data, url in
            if calls.increment() == 2 {
                try CheckpointStore.durableWrite(data, URL(fileURLWithPath: "/dev/full"))
            } else {
                try CheckpointStore.durableWrite(data, url)
            }
        }
        XCTAssertThrowsError(try full.save(step: 30, files: payload(30))) { error in
            let m = String(describing: error)
            XCTAssertTrue(m.contains("cannot save the checkpoint of step 30"), m)
            XCTAssertTrue(m.contains("No space left on device"), m)
            XCTAssertTrue(m.contains("previous checkpoints are unchanged"), m)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: good.directory.path).sorted(),
                       ["step-000010", "step-000020"], "no temporary directory and nothing pruned")
        let loaded = try XCTUnwrap(try good.latest())
        XCTAssertEqual(loaded.step, 20)
        XCTAssertEqual(loaded.files, payload(20))
    }

    /// A real full disk: set TINYLORA_TEST_SMALL_FS to an empty directory on a small file system, e.g.
    /// `mkdir -p /tmp/smallfs && mount -t tmpfs -o size=256k tmpfs /tmp/smallfs` (as root).
    func testFullDiskOnASmallFileSystem() throws {
        guard let path = ProcessInfo.processInfo.environment["TINYLORA_TEST_SMALL_FS"], !path.isEmpty else {
            throw XCTSkip("set TINYLORA_TEST_SMALL_FS to a directory on a small file system (e.g. a 256 KiB tmpfs)")
        }
        let run = URL(fileURLWithPath: path).appendingPathComponent("run-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: run) }
        let store = CheckpointStore(runDirectory: run, keep: 3)
        try store.save(step: 1, files: payload(1))
        let huge = Data(repeating: 7, count: 64 << 20)  // larger than the file system
        XCTAssertThrowsError(try store.save(step: 2, files: ["adapter.tlra": huge, "state.json": Data("{}".utf8)])) { error in
            let m = String(describing: error)
            XCTAssertTrue(m.contains("No space left on device"), m)
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: store.directory.path), ["step-000001"])
        XCTAssertEqual(try store.latest()?.files, payload(1))
        // The space is free again: the next save works.
        try store.save(step: 3, files: payload(3))
        XCTAssertEqual(try store.latest()?.step, 3)
    }

    func testResumedRunReplacesLaterCheckpoints() throws {
        let store = CheckpointStore(runDirectory: dir.url, keep: 5)
        for step in [10, 20, 30] { try store.save(step: step, files: payload(step)) }
        // Step 30 turned out corrupt; the run resumed from 20 and now saves 30 again, then 25 is never written.
        try Data("x".utf8).write(to: store.directory.appendingPathComponent("step-000030/adapter.tlra"))
        XCTAssertEqual(try store.latest()?.step, 20)
        try store.save(step: 30, files: payload(31))
        XCTAssertEqual(try store.latest()?.files, payload(31))
        XCTAssertEqual(try stepsOnDisk(store), [10, 20, 30])
        try store.save(step: 25, files: payload(25))
        XCTAssertEqual(try stepsOnDisk(store), [10, 20, 25], "checkpoints after the saved step belong to the abandoned run")
    }

    func testBadNamesAndSteps() throws {
        let store = CheckpointStore(runDirectory: dir.url)
        for name in ["manifest.json", "../x", ".hidden", ""] {
            XCTAssertThrowsError(try store.save(step: 1, files: [name: Data()]), name)
        }
        XCTAssertThrowsError(try store.save(step: -1, files: [:]))
        XCTAssertNil(try store.latest(), "nothing was written")
    }

    /// Optimizer state goes through JSON: every Float (and Double) must read back bit for bit, or a resumed run
    /// drifts from an uninterrupted one.
    func testJSONStateRoundTripsFloatsBitForBit() throws {
        struct State: Codable { var m: [Float]; var v: [Double] }
        var rng = Xoshiro256StarStar(seed: 5)
        var m = rng.normalFloats(count: 2000).enumerated().map { $0.element * Float(pow(10, Double($0.offset % 60 - 30))) }
        m += [.leastNonzeroMagnitude, .leastNormalMagnitude, .greatestFiniteMagnitude, -0.0, 1.0 / 3]
        let v = m.map { Double($0) / 7 } + [.leastNonzeroMagnitude, .greatestFiniteMagnitude]
        let back = try JSONDecoder().decode(State.self, from: try CheckpointState.jsonData(State(m: m, v: v)))
        XCTAssertEqual(back.m.map(\.bitPattern), m.map(\.bitPattern))
        XCTAssertEqual(back.v.map(\.bitPattern), v.map(\.bitPattern))
        XCTAssertThrowsError(try CheckpointState.jsonData(State(m: [.nan], v: [])), "NaN is not JSON")
    }

    func testStateRoundTripKeepsAll64Bits() throws {
        let state = CheckpointState(step: 40, dataCursor: 123, metricsLines: 40, rng: [0, 1, .max, 0x9e37_79b9_7f4a_7c15], skippedSteps: 2)
        let data = try state.jsonData()
        XCTAssertEqual(String(decoding: data, as: UTF8.self),
                       #"{"data_cursor":123,"metrics_lines":40,"rng":["0000000000000000","0000000000000001","ffffffffffffffff","9e3779b97f4a7c15"],"skipped_steps":2,"step":40}"#)
        XCTAssertEqual(try JSONDecoder().decode(CheckpointState.self, from: data), state)
        let store = CheckpointStore(runDirectory: dir.url)
        try store.save(step: 40, files: [CheckpointState.fileName: data])
        XCTAssertEqual(try store.latest()?.json(CheckpointState.self, CheckpointState.fileName), state)
        XCTAssertThrowsError(try JSONDecoder().decode(CheckpointState.self, from: Data(#"{"data_cursor":1,"metrics_lines":1,"rng":["xyz"],"step":1}"#.utf8)))
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func increment() -> Int { lock.withLock { n += 1; return n } }
}
