import ArgumentParser
import Foundation
import ModelFiles
import Training

/// `tinylora plot`: draws curves from a training run's metrics.jsonl as a self-contained SVG.
struct Plot: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw metrics curves (reward, accuracy, ...) from metrics JSONL files as an SVG chart.",
        discussion: """
        Each line of a metrics file is a JSON object of numbers (as `tinylora train` writes to DIR/metrics.jsonl); \
        null and non-numeric values are skipped. The x axis is --x (default step; the line number when the key is \
        absent). Keys whose name contains "accuracy" are drawn in a second panel, on a 0-1 axis when their values \
        lie in [0, 1]; the other keys share the first panel. Without --keys: reward_mean and every key containing \
        "accuracy" that the files have. Several files draw one series per file and key, named by --names (default: \
        each file's directory name), e.g. the reward curves of several runs in one chart. --error-bars LOW,HIGH \
        draws each point's interval from two keys (e.g. a 95% interval); --reference NAME=Y draws a dashed \
        horizontal line (in the accuracy panel when there is one). Prints the path written.
        """)

    @Argument(help: "The metrics JSONL file(s).")
    var metrics: [String]

    @Option(help: "Output SVG file.")
    var out: String

    @Option(help: "Comma-separated metric keys to draw (default: reward_mean and the accuracy keys).")
    var keys: String?

    @Option(help: "The key giving x (default step).")
    var x: String = "step"

    @Option(help: "Comma-separated series names, one per metrics file (default: each file's directory name).")
    var names: String?

    @Option(help: "Two keys LOW,HIGH giving each point's error bar.")
    var errorBars: String?

    @Option(help: "A dashed horizontal line NAME=Y (repeatable), e.g. a baseline's accuracy.")
    var reference: [String] = []

    @Option(help: "Moving-average window in points (1 = raw values only; raw values are drawn faintly behind).")
    var smooth: Int = 1

    @Flag(help: "Logarithmic x axis (every x must be > 0).")
    var logX = false

    @Option(help: "Chart title (default: the metrics file name, or nothing for several files).")
    var title: String?

    func run() throws {
        guard !metrics.isEmpty else { throw CLIError("give at least one metrics file") }
        guard smooth >= 1 else { throw CLIError("--smooth must be >= 1 (got \(smooth))") }
        guard out.lowercased().hasSuffix(".svg") else { throw CLIError("--out must name a .svg file (got \(out))") }
        let urls = metrics.map { URL(fileURLWithPath: $0) }
        let labels = try names.map(Plot.list)
        if let labels, labels.count != metrics.count {
            throw CLIError("--names has \(labels.count) names for \(metrics.count) metrics files")
        }
        let sources = try urls.enumerated().map { i, url in
            SVGPlot.MetricsSource(name: metrics.count == 1 ? url.path : url.deletingLastPathComponent().lastPathComponent,
                                  records: try MetricsLog.read(url), label: labels?[i])
        }
        let chosen = try keys.map(Plot.list)
        var intervalKeys: (low: String, high: String)?
        if let errorBars {
            let pair = try Plot.list(errorBars)
            guard pair.count == 2 else { throw CLIError("--error-bars takes two keys LOW,HIGH (got '\(errorBars)')") }
            intervalKeys = (pair[0], pair[1])
        }
        let references = try reference.map { text in
            guard let eq = text.lastIndex(of: "="), let y = Double(text[text.index(after: eq)...]), y.isFinite,
                  !text[..<eq].isEmpty else {
                throw CLIError("--reference takes NAME=Y with a number Y (got '\(text)')")
            }
            return PlotReference(name: String(text[..<eq]), y: y)
        }
        let options = SVGPlot.Options(title: title ?? (metrics.count == 1 ? urls[0].lastPathComponent : ""),
                                      logX: logX, smoothing: smooth)
        let svg = try SVGPlot.metricsChart(sources, keys: chosen, xKey: x, intervalKeys: intervalKeys,
                                           references: references, options: options)
        let writer = try AtomicFileWriter(path: out)
        try writer.write(Array(svg.utf8))
        try writer.commit()
        print(out)
    }

    /// A comma-separated list, items trimmed; empty items are an error.
    static func list(_ text: String) throws -> [String] {
        let items = text.split(separator: ",", omittingEmptySubsequences: false).map {
            $0.trimmingCharacters(in: .whitespaces)
        }
        guard !items.contains(where: \.isEmpty) else { throw CLIError("empty item in the list '\(text)'") }
        return items
    }
}
