import ArgumentParser
import Training
#if canImport(Glibc)
import Glibc
#endif

/// The `tinylora` command line. Each subcommand lives in its own file and stays thin over the libraries.
struct TinyLoRA: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tinylora",
        abstract: "Load, run and adapt language models on the CPU.",
        discussion: """
        --model accepts a built-in name (smollm2-135m, qwen2.5-coder-0.5b; fetched into $TINYLORA_HOME/models \
        on first use), a .gguf file or a Hugging Face model directory (holding config.json).
        """,
        subcommands: [Fetch.self, Info.self, Tokenize.self, Score.self, Generate.self, Bench.self, Plan.self, AdapterCommand.self, Merge.self, Export.self, Eval.self, Grade.self, Train.self, Plot.self, Demo.self]
    )
}

/// Entry point: every error that is not about command-line usage is printed as one line
/// `error: <message>` on stderr, with exit status 1.
@main
enum Main {
    static func main() {
        let command: ParsableCommand
        // `--config FILE` (train) is expanded into options before parsing; the command line wins.
        let expansion: ConfigFile.Expansion
        do {
            expansion = try ConfigFile.expansion(Array(CommandLine.arguments.dropFirst()),
                                                 negatableFlags: [], repeatedKeys: ["stop"])
        } catch {
            printError(error)
            exit(1)
        }
        do {
            command = try TinyLoRA.parseAsRoot(expansion.arguments)
        } catch {
            if let message = expansion.explain(parseError: TinyLoRA.message(for: error)) {
                printError(CLIError(message))
                exit(64)
            }
            TinyLoRA.exit(withError: error)  // --help, usage errors: ArgumentParser's own text and exit code
        }
        do {
            var c = command
            try c.run()
        } catch {
            // ArgumentParser's own errors (help and version requests, which built-in commands raise from run(),
            // validation errors, exit codes) keep its text and exit codes; every other error is one line.
            if String(reflecting: type(of: error)).hasPrefix("ArgumentParser.") {
                TinyLoRA.exit(withError: error)
            }
            printError(error)
            exit(1)
        }
    }
}

/// Prints `error: <message>` as a single line on stderr.
func printError(_ error: Error) {
    let message = oneLine(String(describing: error))
    let line = "error: \(message)\n"
    line.withCString { _ = fputs($0, stderr) }
    fflush(stderr)
}

/// Collapses a message to one line.
func oneLine(_ text: String) -> String {
    text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        .filter { !$0.isEmpty }.joined(separator: " ")
}

/// An error raised by the CLI itself (bad input files, inconsistent options).
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ message: String) { description = message }
}

/// Prints a status line on stderr (progress and notes that must not mix with results on stdout).
func printErr(_ text: String) {
    (text + "\n").withCString { _ = fputs($0, stderr) }
    fflush(stderr)
}
