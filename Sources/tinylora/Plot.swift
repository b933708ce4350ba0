import ArgumentParser
import Foundation
import ModelFiles
import Training

/// `tinylora plot`: draws curves from a training run's metrics.jsonl as a self-contained SVG.
struct Plot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw metrics curves (reward, accuracy, ...) from a metrics JSONL file as an SVG chart.",
        discussion: """
        Each line of the metrics file is a JSON object of numbers (as `tinylora train` writes to DIR/metrics.jsonl); \
        null and non-numeric values are skipped. The x axis is --x (default step; the line number when the key is \
        absent). Keys whose name contains "accuracy" are drawn in a second panel, on a 0-1 axis when their values \
        lie in [0, 1]; the other keys share the first panel. Without --keys: reward_mean and every key containing \
        "accuracy" that the file has. Prints the path written.
        """)

    @Argument(help: "The metrics JSONL file.")
    var metrics: String

    @Option(help: "Output SVG file.")
    var out: String

    @Option(help: "Comma-separated metric keys to draw (default: reward_mean and the accuracy keys).")
    var keys: String?

    @Option(help: "The key giving x (default step).")
    var x: String = "step"

    @Option(help: "Moving-average window in points (1 = raw values only; raw values are drawn faintly behind).")
    var smooth: Int = 1

    @Flag(help: "Logarithmic x axis (every x must be > 0).")
    var logX = false

    @Option(help: "Chart title (default: the metrics file name).")
    var title: String?

    func run() throws {
        guard smooth >= 1 else { throw CLIError("--smooth must be >= 1 (got \(smooth))") }
        guard out.lowercased().hasSuffix(".svg") else { throw CLIError("--out must name a .svg file (got \(out))") }
        let url = URL(fileURLWithPath: metrics)
        let records = try MetricsLog.read(url)
        guard !records.isEmpty else { throw CLIError("\(metrics) has no metrics lines") }
        var available: [String] = []
        for r in records { for k in r.keys where !available.contains(k) { available.append(k) } }
        let chosen: [String]
        if let keys {
            chosen = keys.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            guard !chosen.isEmpty else { throw CLIError("--keys is empty") }
            for k in chosen where !available.contains(k) {
                throw CLIError("\(metrics) has no key \(k) (keys: \(available.joined(separator: ", ")))")
            }
        } else {
            chosen = available.filter { $0 == "reward_mean" || $0.contains("accuracy") }
            guard !chosen.isEmpty else {
                throw CLIError("\(metrics) has no reward_mean or accuracy key; choose with --keys (keys: \(available.joined(separator: ", ")))")
            }
        }
        let xKey: String? = available.contains(x) ? x : nil
        if xKey == nil, x != "step" { throw CLIError("\(metrics) has no key \(x) for --x (keys: \(available.joined(separator: ", ")))") }

        func series(_ key: String) -> PlotSeries {
            PlotSeries(name: key, points: MetricsLog.series(records, key: key, xKey: xKey).map { PlotPoint(x: $0.x, y: $0.y) })
        }
        let accuracyKeys = chosen.filter { $0.contains("accuracy") }
        let otherKeys = chosen.filter { !$0.contains("accuracy") }
        var panels: [PlotPanel] = []
        if !otherKeys.isEmpty {
            panels.append(PlotPanel(series: otherKeys.map(series), yLabel: otherKeys.count == 1 ? otherKeys[0] : "value"))
        }
        if !accuracyKeys.isEmpty {
            let s = accuracyKeys.map(series)
            let inUnit = s.allSatisfy { $0.points.allSatisfy { (0 ... 1).contains($0.y) } }
            panels.append(PlotPanel(series: s, yLabel: "accuracy", yRange: inUnit ? 0 ... 1 : nil))
        }
        let options = SVGPlot.Options(title: title ?? url.lastPathComponent, xLabel: xKey ?? "line", logX: logX, smoothing: smooth)
        let svg = try SVGPlot.render(panels: panels, options: options)
        let writer = try AtomicFileWriter(path: out)
        try writer.write(Array(svg.utf8))
        try writer.commit()
        print(out)
    }
}
