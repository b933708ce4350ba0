import Foundation
import ModelFiles
import XCTest

final class GGUFWriterTests: XCTestCase {
    /// Every metadata value type, arrays (empty, nested, of strings), and tensors of several types survive
    /// writer → reader unchanged, with offsets aligned and data padded.
    func testRoundTripEveryValueType() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/all.gguf"
        let values: [(String, GGUFValue)] = [
            ("general.architecture", .string("llama")),
            ("t.u8", .uint8(250)), ("t.i8", .int8(-7)), ("t.u16", .uint16(65000)), ("t.i16", .int16(-32000)),
            ("t.u32", .uint32(4_000_000_000)), ("t.i32", .int32(-2_000_000_000)), ("t.f32", .float32(-1.5e-3)),
            ("t.bool.true", .bool(true)), ("t.bool.false", .bool(false)), ("t.string.unicode", .string("héllo ✓ 漢字")),
            ("t.string.empty", .string("")), ("t.u64", .uint64(UInt64.max)), ("t.i64", .int64(Int64.min)),
            ("t.f64", .float64(Double.pi)),
            ("t.array.i32", .array(elementType: 5, [.int32(1), .int32(-2), .int32(3)])),
            ("t.array.empty", .array(elementType: 8, [])),
            ("t.array.strings", .array(elementType: 8, [.string("a"), .string(""), .string("Ġthe")])),
            ("t.array.nested", .array(elementType: 9, [.array(elementType: 0, [.uint8(1), .uint8(2)]),
                                                        .array(elementType: 12, [.float64(0.25)])])),
            ("t.array.bool", .array(elementType: 7, [.bool(true), .bool(false)])),
            ("general.alignment", .uint32(64)),
        ]
        var w = GGUFWriter()
        for (k, v) in values { try w.set(k, v) }
        let f32 = (0 ..< 24).map { Float($0) * 0.5 - 3 }
        let q8 = (0 ..< 64).map { Float(sin(Double($0))) }
        try w.addTensor(name: "a.f32", dims: [6, 4], values: f32, as: .f32)
        try w.addTensor(name: "b.q8", dims: [32, 2], values: q8, as: .q8_0)
        try w.addTensor(name: "c.bf16", dims: [3], values: [1, -2, 0.5], as: .bf16)
        try w.addTensor(name: "d.f16", dims: [5, 1, 1, 1], type: .f16) { buf in
            for i in 0 ..< 5 { buf.storeBytes(of: Float16(Float(i)).bitPattern, toByteOffset: 2 * i, as: UInt16.self) }
        }
        try w.write(to: path)

        let file = try GGUFFile(path: path)
        XCTAssertEqual(file.version, 3)
        XCTAssertEqual(file.alignment, 64)
        XCTAssertEqual(file.metadataKeys, values.map(\.0))
        for (k, v) in values { XCTAssertEqual(file.metadata[k], v, k) }
        XCTAssertEqual(file.tensors.map(\.name), ["a.f32", "b.q8", "c.bf16", "d.f16"])
        XCTAssertEqual(file.tensors.map(\.dims), [[6, 4], [32, 2], [3], [5, 1, 1, 1]])
        XCTAssertEqual(file.tensors.map(\.type), [.f32, .q8_0, .bf16, .f16])
        XCTAssertEqual(file.dataOffset % 64, 0)
        for t in file.tensors { XCTAssertEqual(t.offset % 64, 0, t.name) }
        XCTAssertEqual(try file.dequantize("a.f32"), f32)
        XCTAssertEqual(try file.dequantize("c.bf16"), [1, -2, 0.5])
        XCTAssertEqual(try file.dequantize("d.f16"), [0, 1, 2, 3, 4])
        let q8back = try file.dequantize("b.q8")
        for i in 0 ..< 64 { XCTAssertEqual(q8back[i], q8[i], accuracy: 1.0 / 127, "q8 \(i)") }
        XCTAssertEqual(Array(file.rawData(try XCTUnwrap(file.tensorInfo("b.q8")))), try Quantize.encode(.q8_0, q8))
        // The data section ends padded to the alignment.
        let size = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        XCTAssertEqual(size % 64, 0)
        // No temporary file is left behind.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["all.gguf"])
    }

    /// A real model's metadata and tensors, copied through the writer, read back identically (and the default
    /// alignment of 32 is used).
    func testRewritesARealModelIdentically() throws {
        let src = try GGUFFile(path: try realModelPath("SmolLM2-135M-Instruct.Q4_1.gguf"))
        var w = GGUFWriter()
        for k in src.metadataKeys { try w.set(k, src.metadata[k]!) }
        for t in src.tensors { try w.addTensor(name: t.name, dims: t.dims, type: t.type, bytes: Array(src.rawData(t))) }
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try w.write(to: dir + "/copy.gguf")
        let copy = try GGUFFile(path: dir + "/copy.gguf")
        XCTAssertEqual(copy.metadataKeys, src.metadataKeys)
        for k in src.metadataKeys { XCTAssertEqual(copy.metadata[k], src.metadata[k], k) }
        XCTAssertEqual(copy.tensors.count, src.tensors.count)
        for (a, b) in zip(copy.tensors, src.tensors) {
            XCTAssertEqual(a.name, b.name)
            XCTAssertEqual(a.dims, b.dims)
            XCTAssertEqual(a.type, b.type)
            XCTAssertTrue(copy.rawData(a).elementsEqual(src.rawData(b)), a.name)
        }
    }

    /// A write that fails midway leaves the previous file untouched and no temporary file behind; a successful
    /// write replaces it.
    func testWriteIsAtomic() throws {
        let dir = try makeTempDir()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/model.gguf"
        var first = GGUFWriter()
        try first.set("general.name", .string("first"))
        try first.write(to: path)

        struct Boom: Error {}
        var failing = GGUFWriter()
        try failing.set("general.name", .string("second"))
        try failing.addTensor(name: "t", dims: [4], type: .f32) { _ in throw Boom() }
        XCTAssertThrowsError(try failing.write(to: path)) { XCTAssertTrue($0 is Boom) }
        XCTAssertEqual(try GGUFFile(path: path).string("general.name"), "first")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["model.gguf"])

        var second = GGUFWriter()
        try second.set("general.name", .string("second"))
        try second.write(to: path)
        XCTAssertEqual(try GGUFFile(path: path).string("general.name"), "second")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir), ["model.gguf"])

        XCTAssertThrowsError(try second.write(to: dir + "/missing/dir/x.gguf")) {
            XCTAssertTrue("\($0)".contains("cannot create \(dir)/missing/dir/x.gguf"), "\($0)")
        }
    }

    func testWriterRejectsInvalidInput() throws {
        var w = GGUFWriter()
        XCTAssertThrowsError(try w.set("x", .array(elementType: 5, [.int32(1), .string("no")]))) {
            XCTAssertTrue("\($0)".contains("array of type 5 holds a value of type 8"), "\($0)")
        }
        XCTAssertThrowsError(try w.addTensor(name: "q", dims: [16, 2], type: .q8_0, bytes: [UInt8](repeating: 0, count: 34))) {
            XCTAssertTrue("\($0)".contains("not a multiple of the Q8_0 block size"), "\($0)")
        }
        XCTAssertThrowsError(try w.addTensor(name: "t", dims: [1, 1, 1, 1, 1], type: .f32, bytes: [0, 0, 0, 0])) {
            XCTAssertTrue("\($0)".contains("5 dimensions"), "\($0)")
        }
        try w.addTensor(name: "t", dims: [1], type: .f32, bytes: [0, 0, 0, 0])
        XCTAssertThrowsError(try w.addTensor(name: "t", dims: [1], type: .f32, bytes: [0, 0, 0, 0])) {
            XCTAssertTrue("\($0)".contains("duplicate tensor name t"), "\($0)")
        }
        XCTAssertThrowsError(try w.addTensor(name: "u", dims: [2], type: .f32, bytes: [0, 0, 0, 0])) {
            XCTAssertTrue("\($0)".contains("4 bytes given"), "\($0)")
        }
        try w.set("general.alignment", .uint32(48))
        XCTAssertThrowsError(try w.write(to: try makeTempDir() + "/x.gguf")) {
            XCTAssertTrue("\($0)".contains("power of two"), "\($0)")
        }
    }
}
