import Foundation

/// One line of a chart: a name for the legend and its points (x ascending is usual but not required).
public struct PlotSeries: Sendable {
    public var name: String
    public var points: [PlotPoint]

    public init(name: String, points: [PlotPoint]) {
        self.name = name
        self.points = points
    }

    public init(name: String, x: [Double], y: [Double]) {
        self.init(name: name, points: zip(x, y).map { PlotPoint(x: $0, y: $1) })
    }
}

/// A point; `interval` (e.g. a 95% confidence interval of y) is drawn as a vertical error bar.
public struct PlotPoint: Equatable, Sendable {
    public var x: Double
    public var y: Double
    public var interval: ClosedRange<Double>?
    public init(x: Double, y: Double, interval: ClosedRange<Double>? = nil) {
        self.x = x
        self.y = y
        self.interval = interval
    }
}

/// A horizontal line across a panel at `y` (e.g. a baseline's value), dashed, with a legend entry.
public struct PlotReference: Equatable, Sendable {
    public var name: String
    public var y: Double
    public init(name: String, y: Double) {
        self.name = name
        self.y = y
    }
}

/// A chart panel: series sharing one y axis. `yRange` fixes the axis (e.g. 0...1 for accuracy); nil fits the data.
public struct PlotPanel: Sendable {
    public var series: [PlotSeries]
    public var yLabel: String
    public var yRange: ClosedRange<Double>?
    public var references: [PlotReference]

    public init(series: [PlotSeries], yLabel: String = "", yRange: ClosedRange<Double>? = nil,
                references: [PlotReference] = []) {
        self.series = series
        self.yLabel = yLabel
        self.yRange = yRange
        self.references = references
    }
}

/// A small self-contained SVG line chart: panels stacked vertically over one shared x axis, each with a frame,
/// grid lines, tick labels, a y label and a legend; one `<polyline class="series">` per series holding one
/// coordinate pair per finite point. Points with an interval get a marker (`<circle class="marker">`) and an error
/// bar (`<path class="interval">`); references are dashed `<line class="reference">`s. With smoothing, each series is drawn as its trailing moving average over
/// `smoothing` points (`<polyline class="series">`) over the raw values drawn faintly (`<polyline class="raw">`).
/// A log x axis (base 10) needs every x > 0.
public enum SVGPlot {
    public struct Options: Sendable {
        public var title: String
        public var xLabel: String
        public var width: Double
        public var panelHeight: Double
        public var logX: Bool
        /// Moving-average window in points; 1 draws the raw values only.
        public var smoothing: Int

        public init(title: String = "", xLabel: String = "step", width: Double = 760, panelHeight: Double = 260,
                    logX: Bool = false, smoothing: Int = 1) {
            self.title = title
            self.xLabel = xLabel
            self.width = width
            self.panelHeight = panelHeight
            self.logX = logX
            self.smoothing = smoothing
        }
    }

    static let colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
    // Layout in pixels.
    static let left = 72.0, right = 170.0, top = 36.0, bottom = 48.0, gap = 40.0

    /// One panel.
    public static func render(series: [PlotSeries], yLabel: String = "", yRange: ClosedRange<Double>? = nil,
                              options: Options = Options()) throws -> String {
        try render(panels: [PlotPanel(series: series, yLabel: yLabel, yRange: yRange)], options: options)
    }

    /// The SVG document. Non-finite points are left out; errors: no panels, a bad size or window, a log axis
    /// with x ≤ 0, a fixed y range that is empty.
    public static func render(panels: [PlotPanel], options: Options = Options()) throws -> String {
        guard !panels.isEmpty else { throw PlotError("nothing to plot: no panels") }
        guard options.width >= 300, options.panelHeight >= 100, options.width <= 10000, options.panelHeight <= 10000 else {
            throw PlotError("the chart size \(options.width)x\(options.panelHeight) is out of range (width 300-10000, panel height 100-10000)")
        }
        guard options.smoothing >= 1 else { throw PlotError("the smoothing window must be at least 1 (got \(options.smoothing))") }
        let panels = panels.map { p in
            PlotPanel(series: p.series.map { s in
                PlotSeries(name: s.name, points: s.points.filter { $0.x.isFinite && $0.y.isFinite }.map { point in
                    var point = point
                    if let i = point.interval, !(i.lowerBound.isFinite && i.upperBound.isFinite) { point.interval = nil }
                    return point
                })
            }, yLabel: p.yLabel, yRange: p.yRange, references: p.references.filter { $0.y.isFinite })
        }
        let xs = panels.flatMap { $0.series.flatMap { $0.points.map(\.x) } }
        for v in xs + panels.flatMap(yValues) where abs(v) > 1e100 {
            throw PlotError("the value \(v) is too large to plot (|value| above 1e100)")
        }
        if options.logX, let bad = panels.lazy.flatMap({ $0.series }).first(where: { $0.points.contains { $0.x <= 0 } }) {
            let x = bad.points.first { $0.x <= 0 }!.x
            throw PlotError("a log x axis needs x > 0, but series \(bad.name) has x = \(x)")
        }
        let xAxis = options.logX ? logAxis(xs) : linearAxis(xs, fixed: nil, integral: xs.allSatisfy { $0 == $0.rounded() })

        let plotWidth = options.width - left - right
        let height = top + Double(panels.count) * options.panelHeight + Double(panels.count - 1) * gap + bottom
        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(n(options.width))" height="\(n(height))" \
        viewBox="0 0 \(n(options.width)) \(n(height))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>

        """
        if !options.title.isEmpty {
            svg += "<text class=\"title\" x=\"\(n(options.width / 2))\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">\(escape(options.title))</text>\n"
        }
        var colorIndex = 0
        for (p, panel) in panels.enumerated() {
            if let r = panel.yRange, !(r.lowerBound.isFinite && r.upperBound.isFinite && r.upperBound > r.lowerBound) {
                throw PlotError("panel \(p + 1): the y range \(r) is empty or not finite")
            }
            let y0 = top + Double(p) * (options.panelHeight + gap)
            let yAxis = linearAxis(yValues(panel), fixed: panel.yRange)
            let frame = (x: left, y: y0, w: plotWidth, h: options.panelHeight)
            func px(_ x: Double) -> Double { frame.x + xAxis.fraction(x) * frame.w }
            func py(_ y: Double) -> Double { frame.y + (1 - yAxis.fraction(y)) * frame.h }

            svg += "<g class=\"panel\">\n"
            svg += "<rect class=\"frame\" x=\"\(n(frame.x))\" y=\"\(n(frame.y))\" width=\"\(n(frame.w))\" height=\"\(n(frame.h))\" fill=\"none\" stroke=\"#444\"/>\n"
            for t in yAxis.ticks {
                let y = py(t)
                svg += "<line class=\"grid\" x1=\"\(n(frame.x))\" y1=\"\(n(y))\" x2=\"\(n(frame.x + frame.w))\" y2=\"\(n(y))\" stroke=\"#ddd\"/>\n"
                svg += "<text class=\"tick\" x=\"\(n(frame.x - 6))\" y=\"\(n(y + 4))\" text-anchor=\"end\">\(yAxis.label(t))</text>\n"
            }
            for t in xAxis.ticks {
                let x = px(t)
                svg += "<line class=\"grid\" x1=\"\(n(x))\" y1=\"\(n(frame.y))\" x2=\"\(n(x))\" y2=\"\(n(frame.y + frame.h))\" stroke=\"#ddd\"/>\n"
                svg += "<text class=\"tick\" x=\"\(n(x))\" y=\"\(n(frame.y + frame.h + 16))\" text-anchor=\"middle\">\(xAxis.label(t))</text>\n"
            }
            if !panel.yLabel.isEmpty {
                let cy = frame.y + frame.h / 2
                svg += "<text class=\"label\" x=\"16\" y=\"\(n(cy))\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(n(cy)))\">\(escape(panel.yLabel))</text>\n"
            }
            for (s, series) in panel.series.enumerated() {
                let color = colors[colorIndex % colors.count]
                colorIndex += 1
                let raw = series.points
                let shown = smoothed(raw, window: options.smoothing)
                if options.smoothing > 1, !raw.isEmpty {
                    svg += "<polyline class=\"raw\" fill=\"none\" stroke=\"\(color)\" stroke-opacity=\"0.25\" stroke-width=\"1\" points=\"\(coordinates(raw, px, py))\"/>\n"
                }
                if !shown.isEmpty {
                    svg += "<polyline class=\"series\" data-name=\"\(escape(series.name))\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"1.8\" points=\"\(coordinates(shown, px, py))\"/>\n"
                }
                if shown.count == 1, raw.first?.interval == nil {
                    svg += "<circle cx=\"\(n(px(shown[0].x)))\" cy=\"\(n(py(shown[0].y)))\" r=\"3\" fill=\"\(color)\"/>\n"
                }
                for point in raw {
                    guard let i = point.interval else { continue }
                    let x = px(point.x), cap = 4.0
                    svg += "<path class=\"interval\" d=\"M\(n(x)),\(n(py(i.lowerBound)))V\(n(py(i.upperBound)))"
                        + "M\(n(x - cap)),\(n(py(i.lowerBound)))h\(n(2 * cap))M\(n(x - cap)),\(n(py(i.upperBound)))h\(n(2 * cap))\" "
                        + "stroke=\"\(color)\" stroke-width=\"1.2\" fill=\"none\"/>\n"
                    svg += "<circle class=\"marker\" cx=\"\(n(x))\" cy=\"\(n(py(point.y)))\" r=\"3.5\" fill=\"\(color)\"/>\n"
                }
                let ly = frame.y + 14 + Double(s) * 18
                let lx = frame.x + frame.w + 14
                svg += "<g class=\"legend\"><line x1=\"\(n(lx))\" y1=\"\(n(ly - 4))\" x2=\"\(n(lx + 22))\" y2=\"\(n(ly - 4))\" stroke=\"\(color)\" stroke-width=\"2\"/>"
                svg += "<text x=\"\(n(lx + 28))\" y=\"\(n(ly))\">\(escape(series.name + (raw.isEmpty ? " (no data)" : "")))</text></g>\n"
            }
            for (k, reference) in panel.references.enumerated() {
                let y = py(reference.y)
                svg += "<line class=\"reference\" data-name=\"\(escape(reference.name))\" x1=\"\(n(frame.x))\" y1=\"\(n(y))\" "
                    + "x2=\"\(n(frame.x + frame.w))\" y2=\"\(n(y))\" stroke=\"#555\" stroke-width=\"1.2\" stroke-dasharray=\"6 4\"/>\n"
                let ly = frame.y + 14 + Double(panel.series.count + k) * 18
                let lx = frame.x + frame.w + 14
                svg += "<g class=\"legend\"><line x1=\"\(n(lx))\" y1=\"\(n(ly - 4))\" x2=\"\(n(lx + 22))\" y2=\"\(n(ly - 4))\" stroke=\"#555\" stroke-width=\"1.2\" stroke-dasharray=\"6 4\"/>"
                svg += "<text x=\"\(n(lx + 28))\" y=\"\(n(ly))\">\(escape(reference.name))</text></g>\n"
            }
            svg += "</g>\n"
        }
        let xLabelY = height - 10
        svg += "<text class=\"label\" x=\"\(n(left + plotWidth / 2))\" y=\"\(n(xLabelY))\" text-anchor=\"middle\">\(escape(options.xLabel + (options.logX ? " (log scale)" : "")))</text>\n"
        svg += "</svg>\n"
        return svg
    }

    /// Every y a panel's axis must show: the points, their intervals and the references.
    static func yValues(_ panel: PlotPanel) -> [Double] {
        panel.series.flatMap { s in
            s.points.flatMap { p in [p.y] + (p.interval.map { [$0.lowerBound, $0.upperBound] } ?? []) }
        } + panel.references.map(\.y)
    }

    /// Trailing moving average: point i becomes the mean of the y values of points max(0, i−window+1)...i.
    public static func smoothed(_ points: [PlotPoint], window: Int) -> [PlotPoint] {
        guard window > 1 else { return points }
        var out: [PlotPoint] = []
        out.reserveCapacity(points.count)
        var sum = 0.0
        for (i, p) in points.enumerated() {
            sum += p.y
            if i >= window { sum -= points[i - window].y }
            out.append(PlotPoint(x: p.x, y: sum / Double(min(i + 1, window))))
        }
        return out
    }

    // MARK: - Axes

    struct Axis {
        let lower: Double
        let upper: Double
        let isLog: Bool
        let ticks: [Double]
        let decimals: Int

        func fraction(_ v: Double) -> Double {
            isLog ? (log10(v) - log10(lower)) / (log10(upper) - log10(lower))
                : (v - lower) / (upper - lower)
        }

        func label(_ v: Double) -> String {
            if isLog {
                let e = log10(v)
                if abs(v) >= 1e5 || abs(v) < 1e-3 { return e == e.rounded() ? "1e\(Int(e))" : String(format: "%.0e", v) }
                return tickText(v, decimals: max(0, -Int(floor(e))))
            }
            return tickText(v, decimals: decimals)
        }
    }

    static func tickText(_ v: Double, decimals: Int) -> String {
        let s = String(format: "%.\(min(decimals, 10))f", v)
        return s.hasPrefix("-") && Double(s) == 0 ? String(s.dropFirst()) : s  // no "-0.00"
    }

    /// "Nice" ticks (1, 2 or 5 × 10^k apart, about 5 of them) covering the values; the axis spans the outer
    /// ticks. A fixed range is used as given (widened to values outside it), with ticks inside it.
    /// `integral` (x = steps): ticks at whole numbers only.
    static func linearAxis(_ values: [Double], fixed: ClosedRange<Double>?, integral: Bool = false) -> Axis {
        var lo = values.min() ?? 0, hi = values.max() ?? 1
        if let fixed {  // widened to show values outside it
            lo = min(lo, fixed.lowerBound)
            hi = max(hi, fixed.upperBound)
        }
        if hi <= lo {
            let pad = lo == 0 ? 1 : abs(lo) * 0.5
            lo -= pad
            hi += pad
        }
        var (m, e) = niceStep((hi - lo) / 5)
        if integral, e < 0 { (m, e) = (1, 0) }
        let step = m * pow(10, Double(e))
        // Tick i is i·m·10^e, computed as i·m / 10^−e for e < 0 so that 3 × 0.2 prints as 0.6.
        func tick(_ i: Double) -> Double { e >= 0 ? i * m * pow(10, Double(e)) : i * m / pow(10, Double(-e)) }
        // Outside the data for a fitted axis, inside a fixed range (with slack for rounding).
        let i0 = fixed == nil ? (lo / step + 1e-9).rounded(.down) : (lo / step - 1e-9).rounded(.up)
        let i1 = fixed == nil ? (hi / step - 1e-9).rounded(.up) : (hi / step + 1e-9).rounded(.down)
        let first = tick(i0), last = tick(i1)
        var ticks: [Double] = []
        var i = i0
        while i <= i1, ticks.count < 50 {
            ticks.append(tick(i))
            i += 1
        }
        let decimals = max(0, -e)
        return Axis(lower: fixed == nil ? first : lo, upper: fixed == nil ? last : hi, isLog: false, ticks: ticks, decimals: decimals)
    }

    /// (m, e) with m·10^e the smallest of 1, 2 or 5 × 10^k not below `rough`.
    static func niceStep(_ rough: Double) -> (Double, Int) {
        let e = Int(floor(log10(rough)))
        for m in [1.0, 2, 5] where m * pow(10, Double(e)) >= rough * (1 - 1e-9) { return (m, e) }
        return (1, e + 1)
    }

    /// The ticks a linear axis over [lower, upper] gets (about five, 1, 2 or 5 × 10^k apart, covering it).
    public static func niceTicks(_ lower: Double, _ upper: Double) -> [Double] {
        linearAxis([lower, upper], fixed: nil).ticks
    }

    /// Whole decades around the values; ticks at each power of ten (and at 2 and 5 times it when the axis
    /// spans fewer than three decades).
    static func logAxis(_ values: [Double]) -> Axis {
        let lo = values.min() ?? 1, hi = values.max() ?? 10
        let e0 = floor(log10(lo)), e1e = ceil(log10(hi))
        let e1 = e1e > e0 ? e1e : e0 + 1
        var ticks: [Double] = []
        let multiples: [Double] = e1 - e0 < 3 ? [1, 2, 5] : [1]
        var e = e0
        while e <= e1 {
            for m in multiples {
                let t = m * pow(10, e)
                if t <= pow(10, e1) * (1 + 1e-9) { ticks.append(t) }
            }
            e += 1
        }
        return Axis(lower: pow(10, e0), upper: pow(10, e1), isLog: true, ticks: ticks, decimals: 0)
    }

    // MARK: - Text

    static func coordinates(_ points: [PlotPoint], _ px: (Double) -> Double, _ py: (Double) -> Double) -> String {
        points.map { n(px($0.x)) + "," + n(py($0.y)) }.joined(separator: " ")
    }

    /// A coordinate with at most two decimals.
    static func n(_ v: Double) -> String {
        let r = (v * 100).rounded() / 100
        return r == r.rounded() && abs(r) < 1e15 ? String(Int(r)) : String(format: "%.2f", r)
    }

    /// XML text and attribute escaping.
    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default:
                if let a = c.asciiValue, a < 0x20, a != 0x09, a != 0x0A { out += "?" } else { out.append(c) }
            }
        }
        return out
    }
}

/// A chart that cannot be drawn.
public struct PlotError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ message: String) { description = message }
}
