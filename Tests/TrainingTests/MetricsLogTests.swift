import Foundation
import Training
import XCTest

final class MetricsLogTests: XCTestCase {
    var dir: TemporaryDirectory!
    override func setUpWithError() throws { dir = try TemporaryDirectory("metrics") }
    override func tearDown() { dir.remove() }

    func record(_ step: Int) -> MetricsRecord {
        var r = MetricsRecord()
        r["step"] = Double(step)
        r["reward_mean"] = Double(step) / 8
        r["kl"] = step == 2 ? .nan : 1e-7 * Double(step)
        r["accuracy"] = nil
        return r
    }

    func testRecordJSONLineKeepsKeyOrderAndWritesNonFiniteAsNull() {
        XCTAssertEqual(record(3).jsonLine, #"{"step":3,"reward_mean":0.375,"kl":3e-07,"accuracy":null}"#)
        XCTAssertEqual(record(2).jsonLine, #"{"step":2,"reward_mean":0.25,"kl":null,"accuracy":null}"#)
        var r = record(1)
        r["step"] = 10  // replaced in place
        r["a\"b"] = -2.5
        XCTAssertEqual(r.jsonLine, #"{"step":10,"reward_mean":0.125,"kl":1e-07,"accuracy":null,"a\"b":-2.5}"#)
    }

    func testAppendReadAndResumeTruncation() throws {
        let url = dir.url.appendingPathComponent("metrics.jsonl")
        // An uninterrupted run of 6 steps.
        let full = try MetricsLog(url: url)
        for s in 1 ... 6 { try full.append(record(s)) }
        XCTAssertEqual(full.lineCount, 6)
        full.close()
        let uninterrupted = try Data(contentsOf: url)

        // A run killed after step 5, mid-way through writing line 6, with its checkpoint at step 3.
        let killed = try MetricsLog(url: url)
        for s in 1 ... 5 { try killed.append(record(s)) }
        killed.close()
        let handle = try FileHandle(forWritingTo: url)
        handle.seekToEndOfFile()
        handle.write(Data(#"{"step":6,"rew"#.utf8))
        handle.closeFile()
        let resumed = try MetricsLog(url: url, keepingLines: 3)
        XCTAssertEqual(resumed.lineCount, 3)
        for s in 4 ... 6 { try resumed.append(record(s)) }
        try resumed.sync()
        resumed.close()
        XCTAssertEqual(try Data(contentsOf: url), uninterrupted, "the resumed file equals the uninterrupted one")

        let back = try MetricsLog.read(url)
        XCTAssertEqual(back.count, 6)
        XCTAssertEqual(back[2].keys, ["step", "reward_mean", "kl", "accuracy"])
        XCTAssertEqual(back[2]["reward_mean"], 0.375)
        XCTAssertNil(back[1]["kl"])
        let series = MetricsLog.series(back, key: "kl")
        XCTAssertEqual(series.map(\.x), [1, 3, 4, 5, 6], "null values are skipped")
        XCTAssertEqual(MetricsLog.series(back, key: "reward_mean", xKey: nil).map(\.x), [1, 2, 3, 4, 5, 6])

        XCTAssertThrowsError(try MetricsLog(url: url, keepingLines: 7)) {
            XCTAssertTrue(String(describing: $0).contains("has 6 complete lines, the checkpoint expects at least 7"), "\($0)")
        }
        let fresh = try MetricsLog(url: url, keepingLines: 0)
        XCTAssertEqual(fresh.lineCount, 0)
        fresh.close()
        XCTAssertEqual(try Data(contentsOf: url).count, 0)
    }

    func testReaderNamesTheBadLine() throws {
        let url = try dir.file("bad.jsonl", "{\"step\":1,\"x\":2}\n\n{\"step\":2,\"x\":\"text\",\"ok\":true}\n[1,2]\n")
        XCTAssertThrowsError(try MetricsLog.read(url)) {
            let m = String(describing: $0)
            XCTAssertTrue(m.contains("bad.jsonl line 4: not a JSON object: [1,2]"), m)
        }
        let url2 = try dir.file("bad2.jsonl", "{\"step\":1}\n{\"step\":2,\n")
        XCTAssertThrowsError(try MetricsLog.read(url2)) { XCTAssertTrue(String(describing: $0).contains("line 2"), "\($0)") }
        // Strings and booleans are skipped, not errors.
        let ok = try dir.file("ok.jsonl", "{\"step\":2,\"x\":\"text\",\"ok\":true,\"n\":{\"a\":1},\"y\":4}\n")
        XCTAssertEqual(try MetricsLog.read(ok).first?.keys, ["step", "y"])
        XCTAssertThrowsError(try MetricsLog.read(dir.url.appendingPathComponent("missing.jsonl")))
    }
}

final class ProgressLineTests: XCTestCase {
    func testFormat() {
        // 12 steps of 200 in 60 s (resumed at step 2, so 10 steps ran): 6 s a step, 188 left → 1128 s = 0:18:48.
        let s = ProgressSnapshot(step: 12, totalSteps: 200, reward: 0.4583, accuracy: 0.5, loss: 0.0123456,
                                 tokensPerSecond: 152.6, elapsed: 60, firstStep: 2)
        XCTAssertEqual(ProgressLine.format(s), "step  12/200  reward 0.458  acc 0.500  loss 0.01235  tok/s 153  ETA 0:18:48")
        let first = ProgressSnapshot(step: 0, totalSteps: 5, elapsed: 3)
        XCTAssertEqual(ProgressLine.format(first), "step 0/5  ETA -:--:--")
        let nan = ProgressSnapshot(step: 5, totalSteps: 5, reward: .nan, loss: -.infinity, elapsed: 10)
        XCTAssertEqual(ProgressLine.format(nan), "step 5/5  reward nan  loss -inf  ETA 0:00:00")
    }

    func testDuration() {
        XCTAssertEqual(ProgressLine.duration(0), "0:00:00")
        XCTAssertEqual(ProgressLine.duration(59.6), "0:01:00")
        XCTAssertEqual(ProgressLine.duration(3599), "0:59:59")
        XCTAssertEqual(ProgressLine.duration(100_000), "27:46:40")
        XCTAssertEqual(ProgressLine.duration(-1), "-:--:--")
        XCTAssertEqual(ProgressLine.duration(.infinity), "-:--:--")
    }

    func testReporterRewritesOnATerminalAndThrottlesOtherwise() {
        var tty: [String] = []
        let live = ProgressReporter(isTerminal: true, write: { tty.append($0) })
        live.update(ProgressSnapshot(step: 1, totalSteps: 2, elapsed: 1))
        live.update(ProgressSnapshot(step: 2, totalSteps: 2, elapsed: 2))
        live.finish()
        XCTAssertEqual(tty, ["\rstep 1/2  ETA 0:00:01\u{1B}[K", "\rstep 2/2  ETA 0:00:00\u{1B}[K", "\n"])

        var log: [String] = []
        let plain = ProgressReporter(isTerminal: false, interval: 10, write: { log.append($0) })
        for step in 1 ... 10 { plain.update(ProgressSnapshot(step: step, totalSteps: 10, elapsed: Double(step) * 4)) }
        plain.finish()
        // Printed at 4 s (first), 16 s and 28 s (10 s apart or more), and the last step at 40 s.
        XCTAssertEqual(log.map { $0.split(separator: " ")[1] }, ["1/10", "4/10", "7/10", "10/10"])
        XCTAssertTrue(log.allSatisfy { $0.hasSuffix("\n") && !$0.contains("\r") })
    }
}

final class NonFiniteGuardTests: XCTestCase {
    func testSkipsCountsAndStopsAfterConsecutiveFailures() throws {
        var g = NonFiniteGuard(maxConsecutive: 3)
        XCTAssertTrue(try g.check(step: 1, loss: 0.5, gradient: [1, 2]))
        XCTAssertFalse(try g.check(step: 2, loss: .nan))
        XCTAssertFalse(try g.check(step: 3, loss: 0.1, gradient: [0, .infinity]))
        XCTAssertTrue(try g.check(step: 4, loss: 0.1, gradient: [0, 1]), "a good step resets the run")
        XCTAssertEqual(g.consecutive, 0)
        XCTAssertFalse(try g.check(step: 5, loss: .infinity))
        XCTAssertFalse(try g.check(step: 6, loss: .nan))
        XCTAssertEqual(g.skipped, 4)
        XCTAssertThrowsError(try g.check(step: 7, loss: 1, gradient: [0, 0, .nan])) { error in
            let m = String(describing: error)
            XCTAssertTrue(m.contains("step 7: gradient element 2 is nan; 3 steps in a row"), m)
            XCTAssertTrue(m.contains("(5 skipped in all)"), m)
        }
        // A resumed run continues the count.
        var resumed = NonFiniteGuard(maxConsecutive: 1, skipped: 4)
        XCTAssertThrowsError(try resumed.check(step: 1, loss: .nan))
        XCTAssertEqual(resumed.skipped, 5)
    }
}
