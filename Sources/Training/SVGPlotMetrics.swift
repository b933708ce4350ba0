/// Charts of a training run's metrics (what `tinylora plot` draws).
extension SVGPlot {
    /// The default keys of a metrics chart: `reward_mean` and every key containing "accuracy", in file order.
    public static func defaultMetricsKeys(_ available: [String]) -> [String] {
        available.filter { $0 == "reward_mean" || $0.contains("accuracy") }
    }

    /// Keys in the order they first appear in the records.
    public static func metricsKeys(_ records: [MetricsRecord]) -> [String] {
        var keys: [String] = []
        var seen: Set<String> = []
        for r in records { for k in r.keys where seen.insert(k).inserted { keys.append(k) } }
        return keys
    }

    /// A chart of `keys` (nil: `defaultMetricsKeys`) against `xKey` (the 1-based line number when no record
    /// has it and it is "step"). Keys containing "accuracy" go to a second panel, on a 0-1 axis when all their
    /// values lie in [0, 1]; the others share the first. `source` names the records in errors (a file path).
    public static func metricsChart(_ records: [MetricsRecord], keys: [String]? = nil, xKey: String = "step",
                                    source: String = "the metrics", options: Options = Options()) throws -> String {
        guard !records.isEmpty else { throw PlotError("\(source) has no metrics lines") }
        let available = metricsKeys(records)
        let list = available.joined(separator: ", ")
        let chosen: [String]
        if let keys {
            guard !keys.isEmpty else { throw PlotError("no keys to plot") }
            for k in keys where !available.contains(k) { throw PlotError("\(source) has no key \(k) (keys: \(list))") }
            chosen = keys
        } else {
            chosen = defaultMetricsKeys(available)
            guard !chosen.isEmpty else {
                throw PlotError("\(source) has no reward_mean or accuracy key; choose keys to plot (keys: \(list))")
            }
        }
        let x: String? = available.contains(xKey) ? xKey : nil
        if x == nil, xKey != "step" { throw PlotError("\(source) has no key \(xKey) for the x axis (keys: \(list))") }

        func series(_ key: String) -> PlotSeries {
            PlotSeries(name: key, points: MetricsLog.series(records, key: key, xKey: x).map { PlotPoint(x: $0.x, y: $0.y) })
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
        var options = options
        options.xLabel = x ?? "line"
        return try render(panels: panels, options: options)
    }
}
