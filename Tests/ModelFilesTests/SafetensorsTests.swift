import Foundation
import ModelFiles
import XCTest

final class SafetensorsTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws { dir = try makeTempDir() }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func write(_ bytes: [UInt8], _ name: String = "t.safetensors") throws -> String {
        let path = dir + "/" + name
        try writeBytes(bytes, to: path)
        return path
    }

    func open(_ bytes: [UInt8]) throws -> SafetensorsFile {
        try SafetensorsFile(path: write(bytes))
    }

    func assertRejects(_ bytes: [UInt8], _ needle: String, line: UInt = #line) throws {
        let path = try write(bytes)
        XCTAssertThrowsError(try SafetensorsFile(path: path), line: line) { error in
            XCTAssertTrue("\(error)".contains(needle), "error \"\(error)\" does not mention \"\(needle)\"", line: line)
            XCTAssertTrue("\(error)".contains(path), "error \"\(error)\" does not name the file", line: line)
        }
    }

    /// A header length as the 8 little-endian bytes that start a safetensors file.
    func le64(_ n: Int) -> [UInt8] { withUnsafeBytes(of: UInt64(n).littleEndian) { Array($0) } }

    static let f32Data: [UInt8] = [0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64]

    // MARK: byte vectors from the upstream crate's tests (safetensors/src/tensor.rs)

    func testUpstreamSerializationVector() throws {
        var w = SafetensorsWriter()
        try w.addTensor(name: "attn.0", dtype: .f32, shape: [1, 2, 3], bytes: Self.f32Data)
        let expected: [UInt8] = [
            64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100,
            116, 121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34,
            58, 91, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115,
            101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 0, 0, 0, 0, 0, 0, 128, 63,
            0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
        ]
        XCTAssertEqual(try w.serialize(), expected)
        let f = try open(expected)
        XCTAssertEqual(f.tensorInfo("attn.0")?.shape, [1, 2, 3])
        XCTAssertEqual(try f.floats("attn.0"), [0, 1, 2, 3, 4, 5])
    }

    func testUpstreamFP4Vector() throws {
        var w = SafetensorsWriter()
        try w.addTensor(name: "attn.0", dtype: .f4, shape: [1, 2], bytes: [0])
        let expected: [UInt8] = [
            64, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 46, 48, 34, 58, 123, 34, 100,
            116, 121, 112, 101, 34, 58, 34, 70, 52, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58,
            91, 49, 44, 50, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102, 115, 101, 116,
            115, 34, 58, 91, 48, 44, 49, 93, 125, 125, 32, 32, 32, 32, 0,
        ]
        XCTAssertEqual(try w.serialize(), expected)
        let f = try open(expected)
        XCTAssertEqual(f.tensorInfo("attn.0")?.dtype, .f4)
        XCTAssertEqual(f.tensorInfo("attn.0")?.byteCount, 1)
        XCTAssertThrowsError(try f.floats("attn.0")) { XCTAssertTrue("\($0)".contains("cannot convert dtype F4"), "\($0)") }
        // Three F4 elements are 12 bits: not whole bytes.
        XCTAssertThrowsError(try w.addTensor(name: "odd", dtype: .f4, shape: [1, 3], bytes: [0, 1])) {
            XCTAssertTrue("\($0)".contains("do not fill whole bytes"), "\($0)")
        }
    }

    func testUpstreamEmptyVectors() throws {
        XCTAssertEqual(try SafetensorsWriter().serialize(), [8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32])
        let withMetadata: [UInt8] = [
            40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95,
            95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119, 111, 114, 107, 34, 58, 34, 112,
            116, 34, 125, 125, 32, 32, 32, 32, 32,
        ]
        XCTAssertEqual(try SafetensorsWriter(metadata: ["framework": "pt"]).serialize(), withMetadata)
        let f = try open(withMetadata)
        XCTAssertEqual(f.metadata, ["framework": "pt"])
        XCTAssertTrue(f.tensors.isEmpty)
    }

    func testUpstreamForcedAlignmentVector() throws {
        var w = SafetensorsWriter()
        try w.addTensor(name: "attn0", dtype: .f32, shape: [1, 1, 2, 3], bytes: Self.f32Data)
        let expected: [UInt8] = [
            72, 0, 0, 0, 0, 0, 0, 0, 123, 34, 97, 116, 116, 110, 48, 34, 58, 123, 34, 100, 116,
            121, 112, 101, 34, 58, 34, 70, 51, 50, 34, 44, 34, 115, 104, 97, 112, 101, 34, 58,
            91, 49, 44, 49, 44, 50, 44, 51, 93, 44, 34, 100, 97, 116, 97, 95, 111, 102, 102,
            115, 101, 116, 115, 34, 58, 91, 48, 44, 50, 52, 93, 125, 125, 32, 32, 32, 32, 32,
            32, 32, 0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0,
            160, 64,
        ]
        XCTAssertEqual(try w.serialize(), expected)
        XCTAssertEqual(try open(expected).floats("attn0"), [0, 1, 2, 3, 4, 5])
    }

    /// The upstream crate's deserialization vectors: unpadded header, empty shape, zero-sized tensor,
    /// whitespace padding before and after the JSON.
    func testUpstreamDeserializationVectors() throws {
        let i32Header = Array(#"{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}"#.utf8)
        XCTAssertEqual(i32Header.count, 60)
        let f = try open([60, 0, 0, 0, 0, 0, 0, 0] + i32Header + [UInt8](repeating: 0, count: 16))
        XCTAssertEqual(f.names, ["test"])
        XCTAssertEqual(f.tensorInfo("test"), SafetensorsTensorInfo(name: "test", dtype: .i32, shape: [2, 2], dataOffsets: 0 ..< 16))
        XCTAssertEqual(f.rawData(f.tensors[0]).count, 16)

        let scalar = Array(#"{"test":{"dtype":"I32","shape":[],"data_offsets":[0,4]}}"#.utf8)
        let s = try open([UInt8(scalar.count), 0, 0, 0, 0, 0, 0, 0] + scalar + [0, 0, 0, 0])
        XCTAssertEqual(s.tensors[0].shape, [])
        XCTAssertEqual(s.tensors[0].elementCount, 1)

        let zero = Array(#"{"test":{"dtype":"I32","shape":[2,0],"data_offsets":[0, 0]}}"#.utf8)
        let z = try open([UInt8(zero.count), 0, 0, 0, 0, 0, 0, 0] + zero)
        XCTAssertEqual(z.tensors[0].shape, [2, 0])
        XCTAssertEqual(z.rawData(z.tensors[0]).count, 0)

        XCTAssertTrue(try open([6, 0, 0, 0, 0, 0, 0, 0] + Array("{}\r \t\n".utf8)).tensors.isEmpty)
        XCTAssertTrue(try open([6, 0, 0, 0, 0, 0, 0, 0] + Array("\t\n{}\r ".utf8)).tensors.isEmpty)
    }

    /// The upstream crate's rejection vectors, each with a clear message.
    func testUpstreamRejectionVectors() throws {
        let i32Header = Array(#"{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}"#.utf8)
        let zeros16 = [UInt8](repeating: 0, count: 16)
        // Trailing bytes after the data (polyglot file) and missing data bytes.
        try assertRejects([60, 0, 0, 0, 0, 0, 0, 0] + i32Header + zeros16 + Array("extra_bogus_data_for_polyglot_file".utf8), "trailing bytes")
        try assertRejects([60, 0, 0, 0, 0, 0, 0, 0] + i32Header + [UInt8](repeating: 0, count: 14), "truncated")
        // Header too large, too small, longer than the file.
        try assertRejects([60, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF] + i32Header + zeros16, "absurd")
        try assertRejects([], "too short")
        try assertRejects([60, 0, 0, 0, 0, 0, 0, 0], "larger than the rest of the file")
        // Not UTF-8, not JSON.
        try assertRejects([1, 0, 0, 0, 0, 0, 0, 0, 0xFF], "not valid UTF-8")
        try assertRejects([1, 0, 0, 0, 0, 0, 0, 0] + Array("{".utf8), "not valid JSON")
        // Offsets that do not match the shape.
        let bad = Array(#"{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0, 4]}}"#.utf8)
        try assertRejects([UInt8(bad.count), 0, 0, 0, 0, 0, 0, 0] + bad, "needs 16")
        // Shapes whose element count overflows.
        for shape in ["[2,18446744073709551614]", "[2,9223372036854775807]"] {
            let h = Array(#"{"test":{"dtype":"I32","shape":\#(shape),"data_offsets":[0,16]}}"#.utf8)
            try assertRejects([UInt8(h.count), 0, 0, 0, 0, 0, 0, 0] + h + zeros16, "test")
        }
        // The "JSON attack": ten tensors sharing the same bytes.
        let attack = "{" + (0 ..< 10).map { #""weight_\#($0)":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}"# }.joined(separator: ",") + "}"
        try assertRejects(le64(attack.utf8.count) + Array(attack.utf8) + zeros16, "overlap")
    }

    // MARK: the reference `safetensors` package (Fixtures/make_safetensors_fixture.py)

    func testReadsAndRewritesReferenceFileByteForByte() throws {
        let url = try fixturesURL()
        let path = url.appendingPathComponent("safetensors_multi.safetensors").path
        let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        let expected = try loadJSONFixture("safetensors_multi.json")
        let tensors = try XCTUnwrap(expected["tensors"] as? [String: [String: Any]])
        let f = try SafetensorsFile(path: path)
        XCTAssertEqual(f.metadata, expected["metadata"] as? [String: String])
        XCTAssertEqual(Set(f.names), Set(tensors.keys))
        var w = SafetensorsWriter(metadata: f.metadata)
        for t in f.tensors {
            let e = try XCTUnwrap(tensors[t.name])
            XCTAssertEqual(t.shape, e["shape"] as? [Int], t.name)
            if let bits = e["values_bits"] as? [Int] {
                XCTAssertEqual(try f.floats(t.name).map(\.bitPattern), bits.map { UInt32($0) }, t.name)
            } else {
                XCTAssertThrowsError(try f.floats(t.name)) { XCTAssertTrue("\($0)".contains("cannot convert dtype \(t.dtype.rawValue)"), "\($0)") }
            }
            try w.addTensor(name: t.name, dtype: t.dtype, shape: t.shape, bytes: Array(f.rawData(t)))
        }
        XCTAssertEqual(try w.serialize(), original)
        try w.write(to: dir + "/copy.safetensors")
        XCTAssertEqual(try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir + "/copy.safetensors"))), original)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["copy.safetensors"])
    }

    /// Expected header checked against the reference package: safetensors.torch.save with these names and a
    /// one-key metadata map gives the same JSON (BF16 sorts before F16).
    func testWriterEscapesNamesLikeSerdeJSONAndStoresFloats() throws {
        var w = SafetensorsWriter(metadata: ["b": "x\"y", "a": "tab\there\u{01}/ü"])
        try w.addTensor(name: "w\\q", shape: [2], values: [1.5, -2], as: .bf16)
        try w.addTensor(name: "v", shape: [1], values: [0.1], as: .f16)
        let header = try w.header()
        let json = String(decoding: header[8...], as: UTF8.self)
        XCTAssertEqual(json.trimmingCharacters(in: .whitespaces),
                       #"{"__metadata__":{"a":"tab\there\u0001/ü","b":"x\"y"},"w\\q":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]},"v":{"dtype":"F16","shape":[1],"data_offsets":[4,6]}}"#)
        XCTAssertEqual(header.count % 8, 0)
        let f = try open(try w.serialize())
        XCTAssertEqual(f.metadata, ["b": "x\"y", "a": "tab\there\u{01}/ü"])
        XCTAssertEqual(try f.floats("w\\q"), [1.5, -2])
        XCTAssertEqual(try f.floats("v"), [Float(Float16(0.1))])
    }

    func testShardedCheckpoint() throws {
        var a = SafetensorsWriter(), b = SafetensorsWriter()
        try a.addTensor(name: "x", shape: [2], values: [1, 2], as: .f32)
        try b.addTensor(name: "y", shape: [1, 2], values: [3, 4], as: .bf16)
        try b.addTensor(name: "z", shape: [1], values: [5], as: .f16)
        try a.write(to: dir + "/model-00001-of-00002.safetensors")
        try b.write(to: dir + "/model-00002-of-00002.safetensors")
        let index = #"{"metadata":{"total_size":14},"weight_map":{"x":"model-00001-of-00002.safetensors","y":"model-00002-of-00002.safetensors","z":"model-00002-of-00002.safetensors"}}"#
        try Data(index.utf8).write(to: URL(fileURLWithPath: dir + "/model.safetensors.index.json"))
        let c = try SafetensorsCollection(directory: dir)
        XCTAssertEqual(c.files.count, 2)
        XCTAssertEqual(c.names, ["x", "y", "z"])
        XCTAssertEqual(try c.floats("x"), [1, 2])
        XCTAssertEqual(try c.floats("y"), [3, 4])
        XCTAssertEqual(c.tensor("z")?.info.shape, [1])
        XCTAssertTrue(c.tensor("y")?.file === c.tensor("z")?.file, "a shard is opened once")
        XCTAssertThrowsError(try c.floats("nope")) { XCTAssertTrue("\($0)".contains("no tensor named nope"), "\($0)") }

        // An index naming a tensor its shard lacks, or a path outside the directory, is rejected.
        let wrong = #"{"weight_map":{"x":"model-00002-of-00002.safetensors"}}"#
        try Data(wrong.utf8).write(to: URL(fileURLWithPath: dir + "/model.safetensors.index.json"))
        XCTAssertThrowsError(try SafetensorsCollection(directory: dir)) { XCTAssertTrue("\($0)".contains("does not hold it"), "\($0)") }
        let escape = #"{"weight_map":{"x":"../model-00001-of-00002.safetensors"}}"#
        try Data(escape.utf8).write(to: URL(fileURLWithPath: dir + "/model.safetensors.index.json"))
        XCTAssertThrowsError(try SafetensorsCollection(directory: dir)) { XCTAssertTrue("\($0)".contains("not a file name"), "\($0)") }
    }
}
