import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest

/// `tinylora plot` on small metrics files written by the test.
final class PlotCLITests: TemporaryDirectoryTestCase {
    /// Polylines of class `series`: (data-name, point count).
    func seriesPolylines(_ svgPath: String) throws -> [(String, Int)] {
        try classedElements(svgPath).filter { $0.0 == "polyline" && $0.1 == "series" }.map {
            ($0.2["data-name"] ?? "", ($0.2["points"] ?? "").split(separator: " ").count)
        }
    }

    /// Elements with a class attribute, in document order: (element, class, attributes).
    func classedElements(_ svgPath: String) throws -> [(String, String, [String: String])] {
        final class Collector: NSObject, XMLParserDelegate {
            var found: [(String, String, [String: String])] = []
            func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                        attributes: [String: String] = [:]) {
                if let c = attributes["class"] { found.append((name, c, attributes)) }
            }
        }
        let parser = XMLParser(data: try Data(contentsOf: URL(fileURLWithPath: svgPath)))
        let c = Collector()
        parser.delegate = c
        XCTAssertTrue(parser.parse(), "the SVG is well-formed XML: \(String(describing: parser.parserError))")
        return c.found
    }

    func testPlotsDefaultAndChosenKeys() throws {
        var lines: [String] = []
        for step in 1 ... 12 {
            let acc = step % 4 == 0 ? "\(Double(step) / 20)" : "null"
            lines.append(#"{"step":\#(step),"reward_mean":\#(Double(step) / 12),"loss":\#(1.0 / Double(step)),"accuracy":\#(acc)}"#)
        }
        let metrics = try write("metrics.jsonl", lines.joined(separator: "\n") + "\n")
        let out = dir + "/" + "curve.svg"
        let r = try CLI.run(["plot", metrics, "--out", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout, out + "\n")
        let found = try seriesPolylines(out)
        XCTAssertEqual(found.map(\.0), ["reward_mean", "accuracy"])
        XCTAssertEqual(found.map(\.1), [12, 3])

        let out2 = dir + "/" + "loss.svg"
        let r2 = try CLI.run(["plot", metrics, "--out", out2, "--keys", "loss,reward_mean", "--smooth", "3", "--log-x"])
        XCTAssertEqual(r2.status, 0, r2.stderr)
        XCTAssertEqual(try seriesPolylines(out2).map(\.1), [12, 12])
    }

    /// Accuracy against trained parameters for two methods (RESULTS.md's plot): one series per file, error bars,
    /// a baseline reference line, log x; and the reward curves of two runs named by their directories.
    func testSeveralFilesErrorBarsAndReference() throws {
        try FileManager.default.createDirectory(atPath: dir + "/rl", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir + "/sft", withIntermediateDirectories: true)
        let rl = try write("rl/rows.jsonl", """
        {"trainable_parameters":1,"accuracy":0.31,"accuracy_low":0.27,"accuracy_high":0.36}
        {"trainable_parameters":13,"accuracy":0.35,"accuracy_low":0.30,"accuracy_high":0.40}
        {"trainable_parameters":549888,"accuracy":0.42,"accuracy_low":0.37,"accuracy_high":0.47}

        """)
        let sft = try write("sft/rows.jsonl", """
        {"trainable_parameters":13,"accuracy":0.29,"accuracy_low":0.25,"accuracy_high":0.34}
        {"trainable_parameters":4399104,"accuracy":0.33,"accuracy_low":0.28,"accuracy_high":0.38}

        """)
        let out = dir + "/accuracy.svg"
        let r = try CLI.run(["plot", rl, sft, "--out", out, "--x", "trainable_parameters", "--keys", "accuracy",
                             "--error-bars", "accuracy_low,accuracy_high", "--log-x", "--names", "GRPO,SFT",
                             "--reference", "base model=0.3025"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let series = try seriesPolylines(out)
        XCTAssertEqual(series.map(\.0), ["GRPO", "SFT"])
        XCTAssertEqual(series.map(\.1), [3, 2])
        let elements = try classedElements(out)
        XCTAssertEqual(elements.filter { $0.1 == "interval" }.count, 5)
        XCTAssertEqual(elements.filter { $0.1 == "marker" }.count, 5)
        let references = elements.filter { $0.1 == "reference" }
        XCTAssertEqual(references.map { $0.2["data-name"] }, ["base model"])
        // The reference sits at 0.3025 of the fixed 0-1 accuracy axis: between the frame's top and bottom.
        let frame = try XCTUnwrap(elements.first { $0.1 == "frame" }?.2)
        let top = Double(frame["y"]!)!, height = Double(frame["height"]!)!
        XCTAssertEqual(Double(references[0].2["y1"]!)!, top + (1 - 0.3025) * height, accuracy: 0.01)

        // Reward curves of two runs, named by their directories.
        let a = try write("rl/metrics.jsonl", "{\"step\":1,\"reward_mean\":0.2}\n{\"step\":2,\"reward_mean\":0.3}\n")
        let b = try write("sft/metrics.jsonl", "{\"step\":1,\"reward_mean\":0.1}\n")
        let curves = dir + "/curves.svg"
        let r2 = try CLI.run(["plot", a, b, "--out", curves])
        XCTAssertEqual(r2.status, 0, r2.stderr)
        XCTAssertEqual(try seriesPolylines(curves).map(\.0), ["rl", "sft"])

        assertCleanError(try CLI.run(["plot", rl, sft, "--out", out, "--names", "one"]), contains: "--names has 1 names")
        // One file with --names: the series takes the name, not the key's.
        let single = dir + "/single.svg"
        let r3 = try CLI.run(["plot", rl, "--out", single, "--x", "trainable_parameters", "--keys", "accuracy",
                              "--names", "GRPO", "--log-x"])
        XCTAssertEqual(r3.status, 0, r3.stderr)
        XCTAssertEqual(try seriesPolylines(single).map(\.0), ["GRPO"])
        assertCleanError(try CLI.run(["plot", rl, "--out", out, "--keys", "accuracy", "--error-bars", "accuracy_low"]),
                         contains: "--error-bars takes two keys")
        assertCleanError(try CLI.run(["plot", rl, "--out", out, "--keys", "accuracy", "--error-bars", "lo,hi",
                                      "--x", "trainable_parameters"]), contains: "has no key lo for the error bars")
        assertCleanError(try CLI.run(["plot", rl, "--out", out, "--reference", "base"]), contains: "NAME=Y")
        assertCleanError(try CLI.run(["plot", rl, a, "--out", out, "--keys", "accuracy"]), contains: "has no key accuracy")
    }

    func testHelp() throws {
        let root = try CLI.run(["--help"])
        XCTAssertTrue(root.stdout.contains("  plot "), "root help lists plot")
        let r = try CLI.run(["plot", "--help"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("USAGE: tinylora plot <metrics> ... --out <out>"), r.stdout)
    }

    func testBadInputIsOneClearError() throws {
        let out = dir + "/" + "x.svg"
        let bad = try write("bad.jsonl", "{\"step\":1,\"reward_mean\":0.5}\n{\"step\":2,\"reward_mean\":\n")
        assertCleanError(try CLI.run(["plot", bad, "--out", out]), contains: "bad.jsonl line 2")
        let good = try write("good.jsonl", "{\"step\":1,\"reward_mean\":0.5}\n")
        assertCleanError(try CLI.run(["plot", good, "--out", out, "--keys", "kl"]), contains: "has no key kl")
        assertCleanError(try CLI.run(["plot", good, "--out", dir + "/" + "x.png"]), contains: "--out must name a .svg")
        let zero = try write("zero.jsonl", "{\"step\":0,\"reward_mean\":0.5}\n")
        assertCleanError(try CLI.run(["plot", zero, "--out", out, "--log-x"]), contains: "log x axis needs x > 0")
        assertCleanError(try CLI.run(["plot", dir + "/" + "none.jsonl", "--out", out]), contains: "cannot read metrics file")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "nothing written on errors")
    }
}
