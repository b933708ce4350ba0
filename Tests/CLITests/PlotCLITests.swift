import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import XCTest

/// `tinylora plot` on small metrics files written by the test.
final class PlotCLITests: TemporaryDirectoryTestCase {
    /// Polylines of class `series`: (data-name, point count).
    func seriesPolylines(_ svgPath: String) throws -> [(String, Int)] {
        final class Collector: NSObject, XMLParserDelegate {
            var found: [(String, Int)] = []
            func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                        attributes: [String: String] = [:]) {
                if name == "polyline", attributes["class"] == "series" {
                    found.append((attributes["data-name"] ?? "", (attributes["points"] ?? "").split(separator: " ").count))
                }
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

    func testHelp() throws {
        let root = try CLI.run(["--help"])
        XCTAssertTrue(root.stdout.contains("  plot "), "root help lists plot")
        let r = try CLI.run(["plot", "--help"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("USAGE: tinylora plot <metrics> --out <out>"), r.stdout)
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
