import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Training
import XCTest

/// The elements of an SVG document, parsed with Foundation's XML parser (which fails on malformed XML).
final class SVGElements: NSObject, XMLParserDelegate {
    var elements: [(name: String, attributes: [String: String])] = []
    var texts: [String] = []
    private var current = ""

    static func parse(_ svg: String) throws -> SVGElements {
        let d = SVGElements()
        let parser = XMLParser(data: Data(svg.utf8))
        parser.delegate = d
        guard parser.parse() else {
            throw PlotError("not well-formed XML: \(parser.parserError.map { String(describing: $0) } ?? "?")")
        }
        return d
    }

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        elements.append((name, attributes))
        current = ""
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { current += string }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if name == "text" { texts.append(current) }
        current = ""
    }

    func polylines(_ cls: String) -> [[(Double, Double)]] {
        elements.filter { $0.name == "polyline" && $0.attributes["class"] == cls }.map { e in
            (e.attributes["points"] ?? "").split(separator: " ").map { pair in
                let xy = pair.split(separator: ",").map { Double($0)! }
                return (xy[0], xy[1])
            }
        }
    }
}

final class SVGPlotTests: XCTestCase {
    func testTwoPanelsOnePolylinePerSeriesWithEveryPoint() throws {
        let steps = (1 ... 30).map(Double.init)
        let reward = PlotSeries(name: "reward_mean", x: steps, y: steps.map { 0.2 + 0.01 * $0 })
        let std = PlotSeries(name: "reward_std <&>", x: steps, y: steps.map { _ in 0.3 })
        var accuracy = PlotSeries(name: "accuracy", x: [0, 10, 20, 30], y: [0.25, 0.3, 0.4, 0.45])
        accuracy.points.append(PlotPoint(x: 40, y: .nan))  // left out
        let svg = try SVGPlot.render(panels: [
            PlotPanel(series: [reward, std], yLabel: "reward"),
            PlotPanel(series: [accuracy], yLabel: "accuracy", yRange: 0 ... 1),
        ], options: SVGPlot.Options(title: "run <1>"))
        let doc = try SVGElements.parse(svg)
        XCTAssertEqual(doc.elements.first?.name, "svg")
        let lines = doc.polylines("series")
        XCTAssertEqual(lines.map(\.count), [30, 30, 4])
        XCTAssertTrue(doc.polylines("raw").isEmpty)
        XCTAssertEqual(doc.elements.filter { $0.name == "g" && $0.attributes["class"] == "panel" }.count, 2)
        XCTAssertTrue(doc.texts.contains("run <1>"))
        XCTAssertTrue(doc.texts.contains("reward_std <&>"), "legend text is escaped and reads back")
        // The accuracy panel's axis is 0...1 with ticks 0, 0.2, ..., 1.
        for t in ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"] { XCTAssertTrue(doc.texts.contains(t), t) }
        // x grows to the right, and a higher reward is drawn higher (smaller SVG y).
        let r = lines[0]
        XCTAssertTrue(zip(r, r.dropFirst()).allSatisfy { $0.0 < $1.0 && $0.1 > $1.1 })
        // Accuracy 0.25 at x=0 and 0.45 at x=30 inside its 0...1 panel: y positions in proportion.
        let a = lines[2]
        let frames = doc.elements.filter { $0.attributes["class"] == "frame" }.map { e in
            (y: Double(e.attributes["y"]!)!, h: Double(e.attributes["height"]!)!)
        }
        XCTAssertEqual(a[0].1, frames[1].y + (1 - 0.25) * frames[1].h, accuracy: 0.01)
        XCTAssertEqual(a[3].1, frames[1].y + (1 - 0.45) * frames[1].h, accuracy: 0.01)
    }

    func testSmoothingDrawsRawAndMovingAverage() throws {
        let s = PlotSeries(name: "r", x: [1, 2, 3, 4, 5], y: [0, 1, 0, 1, 0])
        XCTAssertEqual(SVGPlot.smoothed(s.points, window: 2).map(\.y), [0, 0.5, 0.5, 0.5, 0.5])
        XCTAssertEqual(SVGPlot.smoothed(s.points, window: 3).map(\.y), [0, 0.5, 1.0 / 3, 2.0 / 3, 1.0 / 3])
        let doc = try SVGElements.parse(try SVGPlot.render(series: [s], options: SVGPlot.Options(smoothing: 3)))
        XCTAssertEqual(doc.polylines("series").map(\.count), [5])
        XCTAssertEqual(doc.polylines("raw").map(\.count), [5])
    }

    func testLogXPlacesDecadesEvenly() throws {
        let s = PlotSeries(name: "accuracy", x: [1, 10, 100, 1000], y: [0.1, 0.2, 0.3, 0.4])
        let doc = try SVGElements.parse(try SVGPlot.render(series: [s], yRange: 0 ... 1,
                                                           options: SVGPlot.Options(xLabel: "trained parameters", logX: true)))
        let xs = doc.polylines("series")[0].map(\.0)
        XCTAssertEqual(xs[1] - xs[0], xs[2] - xs[1], accuracy: 0.02)
        XCTAssertEqual(xs[2] - xs[1], xs[3] - xs[2], accuracy: 0.02)
        for t in ["1", "10", "100", "1000"] { XCTAssertTrue(doc.texts.contains(t), "tick \(t): \(doc.texts)") }
        XCTAssertTrue(doc.texts.contains("trained parameters (log scale)"))
        XCTAssertThrowsError(try SVGPlot.render(series: [PlotSeries(name: "a", x: [0, 1], y: [1, 2])], options: SVGPlot.Options(logX: true))) {
            XCTAssertTrue(String(describing: $0).contains("series a has x = 0.0"), "\($0)")
        }
    }

    func testEdgeCasesStillDrawValidSVG() throws {
        let empty = PlotSeries(name: "none", points: [])
        let one = PlotSeries(name: "one", x: [5], y: [2])
        let flat = PlotSeries(name: "flat", x: [1, 2], y: [3, 3])
        let doc = try SVGElements.parse(try SVGPlot.render(series: [empty, one, flat]))
        XCTAssertEqual(doc.polylines("series").map(\.count), [1, 2])
        XCTAssertTrue(doc.texts.contains("none (no data)"))
        XCTAssertEqual(doc.elements.filter { $0.name == "circle" }.count, 1)
        XCTAssertThrowsError(try SVGPlot.render(panels: []))
        XCTAssertThrowsError(try SVGPlot.render(series: [one], options: SVGPlot.Options(smoothing: 0)))
        XCTAssertThrowsError(try SVGPlot.render(series: [one], yRange: 1 ... 1))
        XCTAssertThrowsError(try SVGPlot.render(series: [PlotSeries(name: "big", x: [1, 2], y: [-1e308, 1e308])])) {
            XCTAssertTrue(String(describing: $0).contains("too large to plot"), "\($0)")
        }
        // Large but plottable values get sensible ticks.
        let wide = try SVGElements.parse(try SVGPlot.render(series: [PlotSeries(name: "w", x: [1, 2], y: [-3e9, 7e9])]))
        XCTAssertEqual(wide.polylines("series").map(\.count), [2])
    }

    func testMetricsChartPanelsAndErrors() throws {
        var records: [MetricsRecord] = []
        for step in 1 ... 6 {
            var r = MetricsRecord()
            r["step"] = Double(step)
            r["loss"] = 1 / Double(step)
            r["reward_mean"] = Double(step) / 10
            r["accuracy"] = step % 2 == 0 ? Double(step) / 10 : nil
            records.append(r)
        }
        XCTAssertEqual(SVGPlot.metricsKeys(records), ["step", "loss", "reward_mean", "accuracy"])
        let doc = try SVGElements.parse(try SVGPlot.metricsChart(records))
        XCTAssertEqual(doc.polylines("series").map(\.count), [6, 3], "reward_mean, then accuracy at steps 2, 4, 6")
        XCTAssertEqual(doc.elements.filter { $0.attributes["class"] == "panel" }.count, 2)
        XCTAssertTrue(doc.texts.contains("step"))
        let one = try SVGElements.parse(try SVGPlot.metricsChart(records, keys: ["loss"], xKey: "reward_mean"))
        XCTAssertEqual(one.polylines("series").map(\.count), [6])
        XCTAssertTrue(one.texts.contains("reward_mean"), "x label")
        XCTAssertThrowsError(try SVGPlot.metricsChart(records, keys: ["kl"], source: "m.jsonl")) {
            XCTAssertEqual(String(describing: $0), "m.jsonl has no key kl (keys: step, loss, reward_mean, accuracy)")
        }
        XCTAssertThrowsError(try SVGPlot.metricsChart(records, xKey: "tokens"))
        XCTAssertThrowsError(try SVGPlot.metricsChart(records, keys: ["step", "loss"].filter { $0 == "x" }))
        XCTAssertThrowsError(try SVGPlot.metricsChart([]))
    }

    func testNiceTicks() {
        XCTAssertEqual(SVGPlot.niceTicks(0.13, 0.87), [0.0, 0.2, 0.4, 0.6, 0.8, 1.0])
        XCTAssertEqual(SVGPlot.niceTicks(1, 200), [0, 50, 100, 150, 200])
    }
}
