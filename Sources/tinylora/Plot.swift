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
        let chosen = keys.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } }
        if let chosen, chosen.isEmpty { throw CLIError("--keys is empty") }
        let options = SVGPlot.Options(title: title ?? url.lastPathComponent, logX: logX, smoothing: smooth)
        let svg = try SVGPlot.metricsChart(records, keys: chosen, xKey: x, source: metrics, options: options)
        let writer = try AtomicFileWriter(path: out)
        try writer.write(Array(svg.utf8))
        try writer.commit()
        print(out)
    }
}
