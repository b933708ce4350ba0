import Adapters
import Foundation
import ModelFiles
import Numerics
import Transformer
import XCTest

/// The native adapter file: round trips, size, and a clear error for every kind of bad input.
final class AdapterFileTests: XCTestCase {
    override class func setUp() { BLAS.useSingleThread() }

    private var directory: String!

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "adapter-file-tests-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func tiny13() throws -> (TransformerConfig, InMemoryWeights, Adapter) {
        let (c, w, base) = try TinyModel.base(.init(method: .tinyLoRA, rank: 2, u: 13, tying: .all, seed: 1234))
        let values = Support.gaussian(13, seed: 77)
        return (c, w, try Adapter(base: base, parameters: values))
    }

    func testThirteenParameterAdapterRoundTripsUnderOneKiB() throws {
        let (c, w, adapter) = try tiny13()
        let path = directory + "/a.tla"
        try AdapterFile(adapter).write(to: path)
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        XCTAssertLessThan(size, 1024)
        XCTAssertEqual(size, 168 + 13 * 4 + 32)
        let file = try AdapterFile.read(path: path)
        XCTAssertEqual(file.parameters, adapter.parameters)
        XCTAssertEqual(file.configuration, adapter.plan.configuration)
        XCTAssertEqual(file.fingerprint, adapter.base.fingerprint)
        // Loading regenerates the same A, B, P.
        let loaded = try AdapterFile.load(path: path, model: c, weights: w)
        XCTAssertEqual(loaded.parameters, adapter.parameters)
        XCTAssertEqual(loaded.projections, adapter.projections)
        XCTAssertEqual(loaded.base.factors, adapter.base.factors)
        for (x, y) in zip(loaded.deltas, adapter.deltas) { XCTAssertEqual(x.r, y.r) }
        // No temporary files left behind.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), ["a.tla"])
    }

    func testHalfPrecisionStorage() throws {
        let (c, w, _) = try tiny13()
        for dtype in [ParameterDType.bf16, .fp16] {
            let (_, _, base) = try TinyModel.base(.init(method: .loraXS, rank: 2, tying: .tiled(5), parameterDType: dtype))
            let values = Support.gaussian(base.plan.trainableParameterCount, seed: 5)
            let adapter = try Adapter(base: base, parameters: values)
            let path = directory + "/\(dtype).tla"
            try AdapterFile(adapter).write(to: path)
            let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
            XCTAssertEqual(size, 168 + values.count * 2 + 32)
            let loaded = try AdapterFile.load(path: path, model: c, weights: w)
            for (x, y) in zip(loaded.parameters, values) {
                XCTAssertEqual(x, y, accuracy: abs(y) * (dtype == .bf16 ? 1 / 128 : 1 / 1024) + 1e-6)
            }
        }
        // fp16 overflow is refused at write time.
        let (_, _, base) = try TinyModel.base(.init(method: .tinyLoRA, u: 1, tying: .all, parameterDType: .fp16))
        let big = try Adapter(base: base, parameters: [1e6])
        XCTAssertThrowsError(try AdapterFile(big).encoded()) { XCTAssertTrue("\($0)".contains("overflows fp16"), "\($0)") }
    }

    // MARK: bad files

    /// Patches `bytes` at `offset` and recomputes the checksum, so the check under test is reached.
    private func patched(_ bytes: [UInt8], at offset: Int, _ new: [UInt8]) -> [UInt8] {
        var b = bytes
        b.replaceSubrange(offset ..< offset + new.count, with: new)
        let body = b.count - 32
        b.replaceSubrange(body..., with: SHA256.hash(Array(b[..<body])))
        return b
    }

    private func expectError(_ bytes: [UInt8], _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try AdapterFile.decode(bytes), file: file, line: line) { error in
            XCTAssertTrue("\(error)".contains(fragment), "\(error) should mention \(fragment)", file: file, line: line)
        }
    }

    func testEveryKindOfBadFileGetsAClearError() throws {
        let (_, _, adapter) = try tiny13()
        let good = try AdapterFile(adapter).encoded()
        XCTAssertNoThrow(try AdapterFile.decode(good))
        expectError([], "bad magic")
        expectError(Array("GGUF\u{3}\0\0\0".utf8) + good[8...], "bad magic")
        expectError(Array(good[..<100]), "truncated")
        expectError(Array(good.dropLast(3)), "truncated")
        expectError(good + [0], "oversized")
        var flipped = good
        flipped[170] ^= 0x40
        expectError(flipped, "checksum")
        expectError(patched(good, at: 8, [2, 0]), "format version 2")
        expectError(patched(good, at: 10, [9, 0]), "convention version 9")
        expectError(patched(good, at: 12, [7]), "unknown adapter method code 7")
        expectError(patched(good, at: 13, [5]), "unknown value type")
        expectError(patched(good, at: 14, [9]), "unknown tying code 9")
        expectError(patched(good, at: 15, [0]), "invalid target set")
        // Wrong shapes: a header whose counts disagree with its configuration.
        expectError(patched(good, at: 64, [3, 0, 0, 0]), "wrong shapes")
        // u = 12 with 13 stored values: the size no longer matches what the configuration needs.
        expectError(patched(good, at: 20, [12, 0, 0, 0]), "wrong shapes")
        expectError(patched(good, at: 16, [99, 0, 0, 0]), "rank")
        expectError(patched(good, at: 48, [0xFF, 0xFF, 0xFF, 0x7F]), "implausible")
        // Non-finite values.
        let nan = Float.nan.bitPattern
        expectError(patched(good, at: 168 + 4 * 5, [UInt8(nan & 0xFF), UInt8(nan >> 8 & 0xFF), UInt8(nan >> 16 & 0xFF),
                                                    UInt8(nan >> 24)]), "trained value 5 is not finite")
        // The path is named when reading from disk.
        let path = directory + "/bad.tla"
        try Data(good.dropLast(1)).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try AdapterFile.read(path: path)) { XCTAssertTrue("\($0)".contains(path)) }
        XCTAssertThrowsError(try AdapterFile.read(path: directory + "/missing.tla")) { XCTAssertTrue("\($0)".contains("cannot read")) }
    }

    func testRefusesADifferentBaseModel() throws {
        let (c, _, adapter) = try tiny13()
        let path = directory + "/a.tla"
        try AdapterFile(adapter).write(to: path)
        let otherWeights = TinyModel.weights(c, seed: 10)
        let otherBase = try FrozenBase.build(plan: adapter.plan, model: c, weights: otherWeights)
        XCTAssertThrowsError(try AdapterFile.load(path: path, model: c, weights: otherWeights)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("different base weights"), text)
            XCTAssertTrue(text.contains(adapter.base.fingerprint.description), text)
            XCTAssertTrue(text.contains(otherBase.fingerprint.description), text)
        }
        // A model of another shape is refused before any SVD.
        var wider = c
        wider.intermediateSize = 64
        XCTAssertThrowsError(try AdapterFile.load(path: path, model: wider, weights: otherWeights)) { error in
            XCTAssertTrue("\(error)".contains("gate projection"), "\(error)")
        }
        var deeper = c
        deeper.layerCount = 4
        XCTAssertThrowsError(try AdapterFile.load(path: path, model: deeper, weights: otherWeights)) { error in
            XCTAssertTrue("\(error)".contains("3 layers"), "\(error)")
        }
    }

    func testAtomicWriteReplacesAnExistingFile() throws {
        let (_, _, adapter) = try tiny13()
        let path = directory + "/a.tla"
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: path))
        try AdapterFile(adapter).write(to: path)
        XCTAssertEqual(try AdapterFile.read(path: path).parameters, adapter.parameters)
        // A failing write (non-finite value) leaves the old file untouched.
        var file = AdapterFile(adapter)
        file.parameters[0] = .nan
        XCTAssertThrowsError(try file.write(to: path))
        XCTAssertEqual(try AdapterFile.read(path: path).parameters, adapter.parameters)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), ["a.tla"])
    }
}
