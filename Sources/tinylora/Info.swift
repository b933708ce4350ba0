import ArgumentParser
import ModelFiles

struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print a model's architecture, dimensions and tensor types.")

    @Option(help: "A model name (smollm2-135m, qwen2.5-coder-0.5b), a .gguf path or a Hugging Face model directory.")
    var model: String

    func run() throws {
        let gguf = try GGUFFile(path: model)
        print("file: \(gguf.path) (GGUF v\(gguf.version))")
        print("architecture: \(gguf.string("general.architecture") ?? "?")")
        var counts: [String: Int] = [:]
        var params = 0
        for t in gguf.tensors {
            counts[t.type.name, default: 0] += 1
            params += t.elementCount
        }
        print("parameters: \(params)")
        print("tensor types: " + counts.sorted { $0.key < $1.key }.map { "\($0.key) ×\($0.value)" }.joined(separator: ", "))
    }
}
