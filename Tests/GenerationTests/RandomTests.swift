import Numerics
import XCTest

/// Expected values come from Fixtures/make_random_reference.py (an independent Python implementation of the
/// published SplitMix64 and xoshiro256** algorithms), except `testPublishedXoshiroVector`, from php-src.
final class RandomTests: XCTestCase {
    func testSplitMix64MatchesReference() throws {
        let reference = try loadFixtureJSON("random_reference.json")
        var splitMix = SplitMix64(seed: try uint64s([reference["splitmix_seed"]!])[0])
        let expected = try uint64s(reference["splitmix_outputs"])
        XCTAssertEqual((0 ..< expected.count).map { _ in splitMix.next() }, expected)
    }

    func testSeedingAndOutputsMatchReference() throws {
        let reference = try loadFixtureJSON("random_reference.json")
        var random = Xoshiro256StarStar(seed: try uint64s([reference["xoshiro_seed"]!])[0])
        XCTAssertEqual([random.s0, random.s1, random.s2, random.s3], try uint64s(reference["xoshiro_state"]))
        let expected = try uint64s(reference["xoshiro_outputs"])
        XCTAssertEqual((0 ..< expected.count).map { _ in random.next() }, expected)
    }

    /// php-src ext/random/tests/02_engine/xoshiro256starstar_seed.phpt: state words all 0x0807060504030201
    /// (bytes 01..08 little-endian); after 1000 outputs the next one is, as little-endian bytes, 90a025df9300cfd1.
    func testPublishedXoshiroVector() throws {
        let word: UInt64 = 0x0807_0605_0403_0201
        var random = try XCTUnwrap(Xoshiro256StarStar(state: (word, word, word, word)))
        for _ in 0 ..< 1000 { _ = random.next() }
        XCTAssertEqual(random.next(), 0xD1CF_0093_DF25_A090)
        XCTAssertNil(Xoshiro256StarStar(state: (0, 0, 0, 0)))
    }

    func testStreamsMatchReferenceAndDiffer() throws {
        let reference = try loadFixtureJSON("random_reference.json")
        let base = try uint64s([reference["stream_seed_base"]!])[0]
        let expected = try uint64s(reference["stream_seeds"])
        XCTAssertEqual((0 ..< UInt64(expected.count)).map { Xoshiro256StarStar.streamSeed(base, $0) }, expected)
        XCTAssertEqual(Set(expected).count, expected.count)
        let nested = Xoshiro256StarStar.streamSeed(Xoshiro256StarStar.streamSeed(base, 2), 5)
        XCTAssertEqual(nested, try uint64s([reference["nested_stream_seed_2_5"]!])[0])
        var random = Xoshiro256StarStar(seed: nested)
        let outputs = try uint64s(reference["nested_stream_outputs"])
        XCTAssertEqual((0 ..< outputs.count).map { _ in random.next() }, outputs)
        var a = Xoshiro256StarStar(seed: base, stream: 0)
        var b = Xoshiro256StarStar(seed: base, stream: 1)
        XCTAssertNotEqual(a.next(), b.next())
    }

    func testUniformConversionsMatchReference() throws {
        let reference = try loadFixtureJSON("random_reference.json")
        let seed = try uint64s([reference["doubles_seed"]!])[0]
        var random = Xoshiro256StarStar(seed: seed)
        let doubles = try (reference["doubles_bits"] as? [String] ?? []).map(doubleFromBits)
        XCTAssertEqual(doubles.count, 5)
        for d in doubles { XCTAssertEqual(random.nextDouble(), d) }
        random = Xoshiro256StarStar(seed: seed)
        let floats = try (reference["floats_as_double_bits"] as? [String] ?? []).map(doubleFromBits)
        XCTAssertEqual(floats.count, 5)
        for f in floats { XCTAssertEqual(Double(random.nextFloat()), f) }
    }

    func testBoundedIntegersMatchReference() throws {
        let reference = try loadFixtureJSON("random_reference.json")
        var random = Xoshiro256StarStar(seed: try uint64s([reference["below_seed"]!])[0])
        let small = try uint64s(reference["below_10"])
        XCTAssertEqual(small.map { _ in random.next(below: 10) }, small)
        let bound = try uint64s([reference["below_big_bound"]!])[0]
        let big = try uint64s(reference["below_big"])
        XCTAssertEqual(big.map { _ in random.next(below: bound) }, big)
        XCTAssertEqual(random.next(below: 0), 0)
    }

    func testNormalPairsMatchReference() throws {
        let reference = try loadFixtureJSON("random_reference.json")
        var random = Xoshiro256StarStar(seed: try uint64s([reference["normal_seed"]!])[0])
        let pairs = try XCTUnwrap(reference["normal_pairs_bits"] as? [[String]])
        XCTAssertEqual(pairs.count, 4)
        for pair in pairs {
            let (a, b) = random.nextNormalPair()
            // libm may differ in the last bits between machines (see Xoshiro256StarStar's documentation).
            XCTAssertEqual(a, try doubleFromBits(pair[0]), accuracy: 1e-13)
            XCTAssertEqual(b, try doubleFromBits(pair[1]), accuracy: 1e-13)
        }
        // fillNormal uses both members of each pair, in order.
        var again = Xoshiro256StarStar(seed: try uint64s([reference["normal_seed"]!])[0])
        let values = again.normalFloats(count: 3, mean: 1, standardDeviation: 2)
        XCTAssertEqual(values[0], 1 + 2 * Float(try doubleFromBits(pairs[0][0])))
        XCTAssertEqual(values[1], 1 + 2 * Float(try doubleFromBits(pairs[0][1])))
        XCTAssertEqual(values[2], 1 + 2 * Float(try doubleFromBits(pairs[1][0])))
    }

    func testNormalMomentsAndUniformRange() {
        var random = Xoshiro256StarStar(seed: 12345)
        let n = 200_000
        let values = random.normalFloats(count: n)
        let mean = values.reduce(0.0) { $0 + Double($1) } / Double(n)
        let variance = values.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(n)
        XCTAssertEqual(mean, 0, accuracy: 0.01) // standard error 0.0022
        XCTAssertEqual(variance, 1, accuracy: 0.02) // standard error 0.0032
        for _ in 0 ..< 10_000 {
            let f = random.nextFloat()
            XCTAssertTrue(f >= 0 && f < 1)
            let d = random.nextDouble()
            XCTAssertTrue(d >= 0 && d < 1)
        }
    }
}
