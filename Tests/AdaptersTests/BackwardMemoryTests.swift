import Adapters
import Foundation
import ModelFiles
import Numerics
import Transformer
import XCTest

/// Peak memory (VmHWM) and time of forward+backward of 8 sequences × 512 tokens on Qwen2.5-Coder-0.5B with a
/// TinyLoRA adapter on all 168 modules (issue 3: under 8 GB). Takes minutes on two cores, so it runs only with
/// `TINYLORA_MEMORY_TEST=1`.
final class BackwardMemoryTests: XCTestCase {
    override class func setUp() { BLAS.useSingleThread() }

    /// A `kB` field of /proc/self/status (VmHWM, VmRSS), in bytes.
    static func procStatus(_ field: String) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            return line.split(separator: " ").compactMap { Int($0) }.first.map { $0 * 1024 }
        }
        return nil
    }

    func testQwenEightBy512PeakMemory() throws {
        guard ProcessInfo.processInfo.environment["TINYLORA_MEMORY_TEST"] == "1" else {
            throw XCTSkip("set TINYLORA_MEMORY_TEST=1 to measure (several minutes)")
        }
        let (model, adapter) = try Support.qwenWithTinyLoRA13()
        let afterLoad = BackwardMemoryTests.procStatus("VmHWM") ?? 0
        var rng = Xoshiro256StarStar(seed: 3, stream: 0)
        let tokens = (0 ..< 8).map { _ in (0 ..< 512).map { _ in Int(rng.next() % 150_000) } }
        let lossWeights = tokens.map { seq in (0 ..< seq.count - 1).map { Float($0 % 7) / 7 - 0.4 } }
        let start = Date()
        let (loss, gradient) = try adapter.lossAndGradient(model: model, tokens: tokens, weights: lossWeights)
        let seconds = Date().timeIntervalSince(start)
        let peak = try XCTUnwrap(BackwardMemoryTests.procStatus("VmHWM"))
        print(String(format: "Qwen2.5-Coder-0.5B 8×512 forward+backward: %.1f s, VmHWM %.2f GB (after loading and "
            + "factors %.2f GB), loss %.3f, |g| %.4g", seconds, Double(peak) / 1e9, Double(afterLoad) / 1e9, loss,
            gradient.reduce(0) { $0 + Double($1 * $1) }.squareRoot()))
        XCTAssertTrue(loss.isFinite && gradient.allSatisfy(\.isFinite))
        XCTAssertLessThan(peak, 8_000_000_000)
    }
}
