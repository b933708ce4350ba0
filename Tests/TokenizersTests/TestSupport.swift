import Foundation
import ModelFiles
import Tokenizers
import XCTest

/// Shared helpers: fixture files and the real models (found in $TINYLORA_HOME/models, default ~/.cache/tinylora).
enum TestSupport {
    static let modelFiles = [
        "smollm2-135m": "SmolLM2-135M-Instruct.Q4_1.gguf",
        "qwen2.5-coder-0.5b": "Qwen2.5-Coder-0.5B-Instruct.gguf",
    ]

    static var modelsDirectory: URL {
        let home = ProcessInfo.processInfo.environment["TINYLORA_HOME"]
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/tinylora").path
        return URL(fileURLWithPath: home).appendingPathComponent("models")
    }

    static func fixture(_ name: String) throws -> URL {
        let dir = try XCTUnwrap(Bundle.module.url(forResource: "Fixtures", withExtension: nil), "Fixtures folder missing")
        return dir.appendingPathComponent(name)
    }

    static func json(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: fixture(name))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any], "\(name) is not a JSON object")
    }

    /// The corpus strings, read from their UTF-8 hex (Foundation's JSON reader drops U+FEFF inside strings).
    static func corpus() throws -> [String] {
        let hex = try XCTUnwrap(try json("tokenizer_golden.json")["corpus_utf8_hex"] as? [String])
        return hex.map(fromHex)
    }

    static func fromHex(_ h: String) -> String {
        var bytes: [UInt8] = []
        var i = h.startIndex
        while i < h.endIndex {
            let j = h.index(i, offsetBy: 2)
            bytes.append(UInt8(h[i ..< j], radix: 16)!)
            i = j
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static let cacheLock = NSLock()
    nonisolated(unsafe) private static var ggufs: [String: GGUFFile] = [:]
    nonisolated(unsafe) private static var tokenizers: [String: Tokenizer] = [:]

    static func gguf(_ model: String) throws -> GGUFFile {
        cacheLock.lock()
        defer { cacheLock.unlock() }
        if let g = ggufs[model] { return g }
        let file = try XCTUnwrap(modelFiles[model], "unknown model \(model)")
        let path = modelsDirectory.appendingPathComponent(file).path
        guard FileManager.default.fileExists(atPath: path) else {
            XCTFail("model file missing: \(path) (run `tinylora fetch \(model)` or set TINYLORA_HOME)")
            throw TokenizerError("model file missing: \(path)")
        }
        let g = try GGUFFile(path: path)
        ggufs[model] = g
        return g
    }

    static func tokenizer(_ model: String) throws -> Tokenizer {
        let g = try gguf(model)
        cacheLock.lock()
        defer { cacheLock.unlock() }
        if let t = tokenizers[model] { return t }
        let t = try Tokenizer(gguf: g)
        tokenizers[model] = t
        return t
    }
}
