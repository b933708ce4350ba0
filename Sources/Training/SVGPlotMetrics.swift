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
        try metricsChart([MetricsSource(name: source, records: records)], keys: keys, xKey: xKey, options: options)
    }

    /// One metrics file (or any list of records) of a chart: `name` names it in errors and labels its series
    /// unless `label` is given.
    public struct MetricsSource: Sendable {
        public var name: String
        public var records: [MetricsRecord]
        public var label: String?
        public init(name: String, records: [MetricsRecord], label: String? = nil) {
            self.name = name
            self.records = records
            self.label = label
        }
    }

    /// A chart of `keys` of several sources against `xKey`: one series per source and key, named by the key (one
    /// unlabelled source), the source's label or name (one key) or "label: key". Keys default to `defaultMetricsKeys` of all the sources'
    /// keys (each source drawing those it has); explicit keys must be in every source. Keys containing "accuracy"
    /// go to a second panel, on a 0-1 axis when all their values and intervals lie in [0, 1]. `intervalKeys`
    /// (low, high) give each point's error bar where a record has both. `references` are drawn in the accuracy
    /// panel when there is one, else in the first.
    public static func metricsChart(_ sources: [MetricsSource], keys: [String]? = nil, xKey: String = "step",
                                    intervalKeys: (low: String, high: String)? = nil,
                                    references: [PlotReference] = [], options: Options = Options()) throws -> String {
        guard !sources.isEmpty else { throw PlotError("no metrics to plot") }
        for s in sources where s.records.isEmpty { throw PlotError("\(s.name) has no metrics lines") }
        let availableBySource = sources.map { metricsKeys($0.records) }
        var union: [String] = []
        for k in availableBySource.joined() where !union.contains(k) { union.append(k) }
        let chosen: [String]
        if let keys {
            guard !keys.isEmpty else { throw PlotError("no keys to plot") }
            for (s, available) in zip(sources, availableBySource) {
                let list = available.joined(separator: ", ")
                for k in keys where !available.contains(k) { throw PlotError("\(s.name) has no key \(k) (keys: \(list))") }
            }
            chosen = keys
        } else {
            chosen = defaultMetricsKeys(union)
            guard !chosen.isEmpty else {
                let list = union.joined(separator: ", ")
                throw PlotError("\(sources[0].name) has no reward_mean or accuracy key; choose keys to plot (keys: \(list))")
            }
        }
        for (s, available) in zip(sources, availableBySource) {
            let list = available.joined(separator: ", ")
            if !available.contains(xKey), xKey != "step" {
                throw PlotError("\(s.name) has no key \(xKey) for the x axis (keys: \(list))")
            }
            if let (low, high) = intervalKeys {
                for k in [low, high] where !available.contains(k) {
                    throw PlotError("\(s.name) has no key \(k) for the error bars (keys: \(list))")
                }
            }
        }
        let lineNumbers = !union.contains(xKey)

        func series(_ key: String) -> [PlotSeries] {
            zip(sources, availableBySource).compactMap { source, available in
                guard available.contains(key) else { return nil }
                let label = source.label ?? source.name
                let name = sources.count == 1 && source.label == nil ? key : chosen.count == 1 ? label : "\(label): \(key)"
                return PlotSeries(name: name, points: MetricsLog.series(source.records, key: key,
                                                                        xKey: lineNumbers ? nil : xKey,
                                                                        intervalKeys: intervalKeys))
            }
        }
        let accuracyKeys = chosen.filter { $0.contains("accuracy") }
        let otherKeys = chosen.filter { !$0.contains("accuracy") }
        var panels: [PlotPanel] = []
        if !otherKeys.isEmpty {
            panels.append(PlotPanel(series: otherKeys.flatMap(series), yLabel: otherKeys.count == 1 ? otherKeys[0] : "value"))
        }
        if !accuracyKeys.isEmpty {
            var panel = PlotPanel(series: accuracyKeys.flatMap(series), yLabel: "accuracy", references: references)
            if yValues(panel).allSatisfy({ (0 ... 1).contains($0) }) { panel.yRange = 0 ... 1 }
            panels.append(panel)
        } else {
            panels[0].references = references
        }
        var options = options
        options.xLabel = lineNumbers ? "line" : xKey
        return try render(panels: panels, options: options)
    }
}
