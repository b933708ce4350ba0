import Foundation
import ModelFiles
import XCTest

/// Damaged and hostile files must give a clear error naming the file and the problem: never a crash, a hang
/// or a huge allocation. Valid files are built with the writers, then cut or patched.
final class BadInputTests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws { dir = try makeTempDir() }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    /// A small GGUF file with this exact layout (byte offsets):
    ///   0 magic, 4 version, 8 tensor count, 16 metadata count
    ///   24 key "general.architecture" (len at 24, type at 52, string len at 56, "llama" at 64)
    ///   69 key "arr" (type at 80, element type at 84, count at 88, three int32 at 96)
    ///   108 key "flag" (type at 120, bool at 124)
    ///   125 tensor "a": n_dims at 134, dims at 138 and 146, type at 154, offset at 158
    ///   166 tensor "b": n_dims at 175, dim at 179, type at 187, offset at 191
    ///   224 data: a (F32 [4, 2], 32 bytes), 256: b (F32 [8], 32 bytes); 288 bytes in all.
    func validGGUF() throws -> [UInt8] {
        var w = GGUFWriter()
        try w.set("general.architecture", .string("llama"))
        try w.set("arr", .array(elementType: 5, [.int32(1), .int32(2), .int32(3)]))
        try w.set("flag", .bool(true))
        try w.addTensor(name: "a", dims: [4, 2], values: (0 ..< 8).map(Float.init), as: .f32)
        try w.addTensor(name: "b", dims: [8], values: (0 ..< 8).map { -Float($0) }, as: .f32)
        let path = dir + "/valid.gguf"
        try w.write(to: path)
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        XCTAssertEqual(bytes.count, 288)
        XCTAssertEqual(Array(bytes[77 ..< 80]), Array("arr".utf8))
        XCTAssertEqual(bytes[133], UInt8(ascii: "a"))
        XCTAssertEqual(bytes[174], UInt8(ascii: "b"))
        XCTAssertEqual(try GGUFFile(path: path).tensors.map(\.offset), [0, 32])
        return bytes
    }

    func patch<T: FixedWidthInteger>(_ bytes: [UInt8], at offset: Int, _ value: T) -> [UInt8] {
        var b = bytes
        withUnsafeBytes(of: value.littleEndian) { for (i, x) in $0.enumerated() { b[offset + i] = x } }
        return b
    }

    func assertGGUFRejects(_ bytes: [UInt8], _ needles: [String], line: UInt = #line) throws {
        let path = dir + "/bad.gguf"
        try writeBytes(bytes, to: path)
        XCTAssertThrowsError(try GGUFFile(path: path), line: line) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains(path), "error does not name the file: \(message)", line: line)
            for n in needles { XCTAssertTrue(message.contains(n), "error \"\(message)\" does not mention \"\(n)\"", line: line) }
        }
    }

    func testTruncatedGGUF() throws {
        let good = try validGGUF()
        try assertGGUFRejects([], ["truncated", "magic"])
        try assertGGUFRejects(Array(good[..<2]), ["truncated", "magic"])
        try assertGGUFRejects(Array(good[..<12]), ["truncated", "tensor count"])
        try assertGGUFRejects(Array(good[..<60]), ["truncated", "tensor count"])                 // in metadata
        try assertGGUFRejects(Array(good[..<100]), ["truncated", "arr"])                      // in an array
        try assertGGUFRejects(Array(good[..<150]), ["truncated", "dimension of a"])           // in tensor infos
        try assertGGUFRejects(Array(good[..<200]), ["past the end of the file"])              // before the data
        try assertGGUFRejects(Array(good[..<287]), ["tensor b", "past the end of the file"])  // in the data
    }

    func testBadHeaderFields() throws {
        let good = try validGGUF()
        try assertGGUFRejects(patch(good, at: 0, UInt32(0x4655_4746)), ["not a GGUF file"])
        try assertGGUFRejects(Array("{\"not\": \"gguf\"}".utf8), ["not a GGUF file"])
        try assertGGUFRejects(patch(good, at: 4, UInt32(4)), ["unsupported GGUF version 4"])
        try assertGGUFRejects(patch(good, at: 4, UInt32(1)), ["version 1 is not supported"])
        try assertGGUFRejects(patch(good, at: 4, UInt32(3).byteSwapped), ["big-endian"])
        try assertGGUFRejects(patch(good, at: 8, UInt64(1) << 50), ["tensor count", "larger than the file could hold"])
        try assertGGUFRejects(patch(good, at: 8, UInt64.max), ["tensor count"])
        try assertGGUFRejects(patch(good, at: 16, UInt64(1) << 60), ["metadata count", "larger than the file could hold"])
    }

    func testAbsurdLengthsDoNotAllocate() throws {
        let good = try validGGUF()
        try assertGGUFRejects(patch(good, at: 24, UInt64(1) << 40), ["metadata key length", "absurd"])
        try assertGGUFRejects(patch(good, at: 24, UInt64.max), ["metadata key length", "absurd"])
        try assertGGUFRejects(patch(good, at: 56, UInt64(1) << 26), ["truncated", "general.architecture"])
        try assertGGUFRejects(patch(good, at: 88, UInt64(1) << 60), ["arr", "array length", "absurd"])
        try assertGGUFRejects(patch(good, at: 88, UInt64(1) << 20), ["arr", "larger than the file could hold"])
        try assertGGUFRejects(patch(good, at: 125, UInt64(1) << 33), ["tensor name length", "absurd"])
        try assertGGUFRejects(patch(good, at: 138, UInt64(1) << 40), ["tensor a", "absurd dimension"])
        try assertGGUFRejects(patch(good, at: 138, UInt64(Int32.max)), ["tensor a", "past the end of the file"])
    }

    func testBadValueAndTensorFields() throws {
        let good = try validGGUF()
        try assertGGUFRejects(patch(good, at: 52, UInt32(13)), ["general.architecture", "unknown metadata value type 13"])
        try assertGGUFRejects(patch(good, at: 84, UInt32(77)), ["arr", "unknown array element type 77"])
        try assertGGUFRejects(patch(good, at: 124, UInt8(2)), ["flag", "neither 0 nor 1"])
        try assertGGUFRejects(patch(good, at: 134, UInt32(5)), ["tensor a has 5 dimensions"])
        try assertGGUFRejects(patch(good, at: 134, UInt32(0)), ["tensor a has 0 dimensions"])
        try assertGGUFRejects(patch(good, at: 154, UInt32(99)), ["tensor a", "unknown ggml type 99"])
        try assertGGUFRejects(patch(good, at: 154, GGMLType.q8_0.rawValue), ["tensor a", "not a multiple of the Q8_0 block size"])
        try assertGGUFRejects(patch(good, at: 191, UInt64(4)), ["tensor b", "misaligned"])
        try assertGGUFRejects(patch(good, at: 191, UInt64(1024)), ["tensor b", "past the end of the file"])
        try assertGGUFRejects(patch(good, at: 191, UInt64(1) << 62), ["tensor b", "absurd offset"])
        try assertGGUFRejects(patch(good, at: 191, UInt64(0)), ["tensors a and b overlap"])
        // A duplicate key / tensor name.
        var keys = GGUFWriter()
        try keys.set("k1", .uint8(1))
        try keys.set("k2", .uint8(2))
        try keys.write(to: dir + "/keys.gguf")
        var dupKey = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir + "/keys.gguf")))
        XCTAssertEqual(Array(dupKey[24 + 8 + 2 + 4 + 1 + 8 ..< 24 + 8 + 2 + 4 + 1 + 10]), Array("k2".utf8))
        dupKey[24 + 8 + 2 + 4 + 1 + 9] = UInt8(ascii: "1")
        try assertGGUFRejects(dupKey, ["duplicate metadata key k1"])
        var dupName = good
        dupName[174] = UInt8(ascii: "a")
        try assertGGUFRejects(dupName, ["duplicate tensor name a"])
        // Bad general.alignment.
        var w = GGUFWriter()
        try w.set("general.alignment", .uint32(32))
        try w.addTensor(name: "t", dims: [1], values: [1], as: .f32)
        try w.write(to: dir + "/al.gguf")
        let al = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir + "/al.gguf")))
        try assertGGUFRejects(patch(al, at: 24 + 8 + 17 + 4, UInt32(48)), ["general.alignment must be a power of two"])
    }

    // MARK: safetensors

    func assertSafetensorsRejects(_ bytes: [UInt8], _ needles: [String], line: UInt = #line) throws {
        let path = dir + "/bad.safetensors"
        try writeBytes(bytes, to: path)
        XCTAssertThrowsError(try SafetensorsFile(path: path), line: line) { error in
            let message = "\(error)"
            XCTAssertTrue(message.contains(path), "error does not name the file: \(message)", line: line)
            for n in needles { XCTAssertTrue(message.contains(n), "error \"\(message)\" does not mention \"\(n)\"", line: line) }
        }
    }

    /// A file with the given JSON header (padded to 8 bytes) and `dataBytes` zero bytes of data.
    func safetensors(header: String, dataBytes: Int) -> [UInt8] {
        var h = Array(header.utf8)
        h += repeatElement(UInt8(ascii: " "), count: (8 - h.count % 8) % 8)
        return withUnsafeBytes(of: UInt64(h.count).littleEndian) { Array($0) } + h + [UInt8](repeating: 0, count: dataBytes)
    }

    func testBadSafetensors() throws {
        var w = SafetensorsWriter(metadata: ["format": "pt"])
        try w.addTensor(name: "t", shape: [2, 3], values: [1, 2, 3, 4, 5, 6], as: .f32)
        let good = try w.serialize()
        XCTAssertEqual(try { () throws -> [Float] in
            try Data(good).write(to: URL(fileURLWithPath: dir + "/good.safetensors"))
            return try SafetensorsFile(path: dir + "/good.safetensors").floats("t")
        }(), [1, 2, 3, 4, 5, 6])

        // Truncated: in the length, in the header, in the data.
        try assertSafetensorsRejects(Array(good[..<5]), ["too short"])
        try assertSafetensorsRejects(Array(good[..<20]), ["larger than the rest of the file", "truncated"])
        try assertSafetensorsRejects(Array(good[..<(good.count - 1)]), ["tensor t", "truncated"])
        // Header length larger than the file, and absurd.
        try assertSafetensorsRejects(patch(good, at: 0, UInt64(good.count)), ["larger than the rest of the file"])
        try assertSafetensorsRejects(patch(good, at: 0, UInt64.max), ["absurd"])
        // Invalid JSON, JSON that is not an object, bad __metadata__.
        var broken = good
        broken[8] = UInt8(ascii: "x")
        try assertSafetensorsRejects(broken, ["not valid JSON"])
        try assertSafetensorsRejects(safetensors(header: "[1, 2]", dataBytes: 0), ["not an object"])
        try assertSafetensorsRejects(safetensors(header: #"{"__metadata__":{"a":1}}"#, dataBytes: 0), ["__metadata__", "not a string"])
        // Offsets out of range, gaps, overlaps, reversed.
        try assertSafetensorsRejects(safetensors(header: #"{"t":{"dtype":"F32","shape":[8],"data_offsets":[0,32]}}"#, dataBytes: 24),
                                     ["tensor t", "past the end of the data section"])
        try assertSafetensorsRejects(safetensors(header: #"{"t":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}}"#, dataBytes: 16),
                                     ["tensor t", "gap"])
        try assertSafetensorsRejects(safetensors(header: #"{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"u":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, dataBytes: 8),
                                     ["tensor u", "overlap"])
        try assertSafetensorsRejects(safetensors(header: #"{"t":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}}"#, dataBytes: 8),
                                     ["tensor t", "end before they begin"])
        try assertSafetensorsRejects(safetensors(header: #"{"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#, dataBytes: 12),
                                     ["trailing bytes"])
        // Shape and size disagree; odd shapes and numbers.
        try assertSafetensorsRejects(safetensors(header: #"{"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, dataBytes: 8),
                                     ["tensor t", "hold 8 bytes", "needs 12"])
        try assertSafetensorsRejects(safetensors(header: #"{"t":{"dtype":"F32","shape":[-1],"data_offsets":[0,0]}}"#, dataBytes: 0),
                                     ["tensor t: shape", "not a non-negative integer"])
        try assertSafetensorsRejects(safetensors(header: #"{"t":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#, dataBytes: 4),
                                     ["tensor t: shape"])
        try assertSafetensorsRejects(safetensors(header: #"{"t":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}"#, dataBytes: 4),
                                     ["tensor t", "overflow"])
        try assertSafetensorsRejects(safetensors(header: #"{"t":{"dtype":"F32","shape":[1]}}"#, dataBytes: 4),
                                     ["tensor t", "data_offsets"])
        // Unknown dtype.
        try assertSafetensorsRejects(safetensors(header: #"{"t":{"dtype":"F33","shape":[1],"data_offsets":[0,4]}}"#, dataBytes: 4),
                                     ["tensor t", "unknown dtype F33"])
        try assertSafetensorsRejects(safetensors(header: #"{"t":{"shape":[1],"data_offsets":[0,4]}}"#, dataBytes: 4),
                                     ["tensor t", "missing dtype"])
    }

    func testMissingFilesAndDirectories() throws {
        XCTAssertThrowsError(try GGUFFile(path: dir + "/none.gguf")) { XCTAssertTrue("\($0)".contains("cannot open \(self.dir)/none.gguf"), "\($0)") }
        XCTAssertThrowsError(try GGUFFile(path: dir)) { XCTAssertTrue("\($0)".contains("is not a regular file"), "\($0)") }
        XCTAssertThrowsError(try SafetensorsCollection(directory: dir)) { XCTAssertTrue("\($0)".contains("no model.safetensors"), "\($0)") }
    }
}

/// Thousands of random corruptions of valid files: opening (and decoding whatever opens) must either work or
/// throw; any crash fails the whole run.
final class CorruptionFuzzTests: XCTestCase {
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    func mutate(_ good: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var b = good
        switch Int.random(in: 0 ..< 4, using: &rng) {
        case 0:  // truncate
            b = Array(b[..<Int.random(in: 0 ..< b.count, using: &rng)])
        case 1:  // flip a few random bytes
            for _ in 0 ..< Int.random(in: 1 ... 4, using: &rng) { b[Int.random(in: 0 ..< b.count, using: &rng)] = UInt8.random(in: 0 ... 255, using: &rng) }
        case 2:  // write a random 64-bit value (lengths, counts, offsets) somewhere in the header
            let at = Int.random(in: 0 ..< min(b.count - 8, 200), using: &rng)
            let v: UInt64 = [UInt64.max, 1 << 62, 1 << 40, 1 << 31, UInt64(UInt32.max), 4096, 5, 0].randomElement(using: &rng)!
            withUnsafeBytes(of: v.littleEndian) { for (i, x) in $0.enumerated() { b[at + i] = x } }
        default:  // duplicate a slice over another place
            let from = Int.random(in: 0 ..< b.count, using: &rng), to = Int.random(in: 0 ..< b.count, using: &rng)
            let n = min(Int.random(in: 1 ... 16, using: &rng), b.count - from, b.count - to)
            b.replaceSubrange(to ..< to + n, with: b[from ..< from + n])
        }
        return b
    }

    func testRandomCorruptionsNeverCrash() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        var gw = GGUFWriter()
        try gw.set("general.architecture", .string("llama"))
        try gw.set("tokenizer.ggml.tokens", .array(elementType: 8, [.string("a"), .string("bb"), .string("ccc")]))
        try gw.set("nested", .array(elementType: 9, [.array(elementType: 4, [.uint32(7)])]))
        try gw.set("x", .float64(1.5))
        try gw.addTensor(name: "q8", dims: [32, 2], values: (0 ..< 64).map { Float($0) / 64 }, as: .q8_0)
        try gw.addTensor(name: "f16", dims: [3], values: [1, 2, 3], as: .f16)
        try gw.write(to: dir + "/good.gguf")
        let gguf = try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir + "/good.gguf")))
        var sw = SafetensorsWriter(metadata: ["format": "pt"])
        try sw.addTensor(name: "a", shape: [2, 2], values: [1, 2, 3, 4], as: .bf16)
        try sw.addTensor(name: "b", shape: [3], values: [1, 2, 3], as: .f32)
        let st = try sw.serialize()

        var rng = SplitMix64(state: 42)
        var opened = 0, rejected = 0
        for i in 0 ..< 10000 {
            // A new file each time: overwriting (truncating) a file is ~30x slower on this file system.
            let path = dir + "/m\(i)"
            defer { unlink(path) }
            let isGGUF = i % 2 == 0
            let m = mutate(isGGUF ? gguf : st, &rng)
            try writeBytes(m, to: path)
            do {
                if isGGUF {
                    let f = try GGUFFile(path: path)
                    for t in f.tensors { _ = try? f.dequantize(t) }
                } else {
                    let f = try SafetensorsFile(path: path)
                    for t in f.tensors { _ = try? f.floats(t) }
                }
                opened += 1
            } catch let e as ModelFileError {
                XCTAssertFalse(e.message.isEmpty)
                rejected += 1
            }
        }
        XCTAssertGreaterThan(rejected, 3000)
        XCTAssertGreaterThan(opened, 300)
    }
}
