import ArgumentParser

@main
struct TinyLoRA: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tinylora",
        abstract: "Load, run and adapt language models on the CPU.",
        subcommands: [Info.self]
    )
}
