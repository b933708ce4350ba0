import Foundation
import Tasks
import XCTest

/// `spec:subset=N,seed=S`: a fixed seeded choice of N items, in dataset order.
final class DatasetSubsetTests: XCTestCase {
    func testIndicesAreDistinctSortedAndReproducible() throws {
        for (size, count) in [(1, 1), (3, 10), (10, 10), (400, 1319)] {
            let subset = DatasetSubset(size: size, seed: 7)
            let chosen = try subset.indices(count: count)
            XCTAssertEqual(chosen.count, size)
            XCTAssertEqual(Set(chosen).count, size, "distinct")
            XCTAssertEqual(chosen, chosen.sorted())
            XCTAssertTrue(chosen.allSatisfy { (0 ..< count).contains($0) })
            XCTAssertEqual(try subset.indices(count: count), chosen, "same seed, same items")
        }
        XCTAssertNotEqual(try DatasetSubset(size: 400, seed: 1).indices(count: 1319),
                          try DatasetSubset(size: 400, seed: 2).indices(count: 1319))
    }

    /// A fair partial shuffle chooses every index with probability N/count: over 4000 seeds each of 10 indices is
    /// chosen 1200 times on average (3 of 10), σ ≈ 29; an off-by-one in the swap range skews the ends by hundreds.
    func testEveryIndexIsEquallyLikely() throws {
        var hits = [Int](repeating: 0, count: 10)
        for seed in 0 ..< 4000 {
            for i in try DatasetSubset(size: 3, seed: UInt64(seed)).indices(count: 10) { hits[i] += 1 }
        }
        for (i, h) in hits.enumerated() { XCTAssertEqual(Double(h), 1200, accuracy: 150, "index \(i): \(hits)") }
    }

    func testSpecLoadsTheChosenItemsOfTheWholeDataset() throws {
        let whole = try Dataset.load("arith:n=50,seed=3")
        let part = try Dataset.load("arith:n=50,seed=3:subset=12,seed=9")
        let chosen = try DatasetSubset(size: 12, seed: 9).indices(count: 50)
        XCTAssertEqual(part.examples, chosen.map { whole.examples[$0] })
        XCTAssertEqual(part.name, "\(whole.name):subset=12,seed=9")
    }

    func testBadSubsetSpecsAreRefused() {
        for (spec, message) in [("arith:n=5:subset=6,seed=1", "subset of 6 items asked from a dataset of 5"),
                                ("arith:subset=0,seed=1", "subset must be a positive integer"),
                                ("arith:subset=x,seed=1", "subset must be a positive integer"),
                                ("arith:subset=3", "needs both subset=N and seed=S"),
                                ("arith:subset=3,seed=-1", "seed must be a non-negative integer"),
                                ("arith:subset=3,seed=1,size=2", "unknown subset key \"size\""),
                                ("arith:subset=3,seed", "is not key=value"),
                                (":subset=3,seed=1", "no dataset before")] {
            XCTAssertThrowsError(try Dataset.load(spec), spec) { XCTAssertTrue("\($0)".contains(message), "\(spec): \($0)") }
        }
    }

    /// The GSM8K evaluation subset of the paper-replication runs (issue 6), chosen before any training: the ids
    /// the spec gives are pinned in results/gsm8k-test-subset-400-seed-2026.txt, so the choice can never drift.
    func testGSM8KEvaluationSubsetIsPinned() throws {
        let pinned = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("results/gsm8k-test-subset-400-seed-2026.txt")
        let ids = try String(contentsOf: pinned, encoding: .utf8).split(separator: "\n").map(String.init)
            .filter { !$0.hasPrefix("#") && !$0.isEmpty }
        let subset = try Dataset.load("gsm8k-test:subset=400,seed=2026", reporter: .silent)
        XCTAssertEqual(subset.examples.map(\.id), ids)
    }
}
