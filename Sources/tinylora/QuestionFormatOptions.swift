import ArgumentParser
import Tasks

/// `--system` and `--suffix`: how `eval`, `grade` and `train` turn a dataset's questions into chat messages.
struct QuestionFormatOptions: ParsableArguments {
    @Option(help: "A system message placed before each question.")
    var system: String?

    @Option(help: "Text appended to each question (default: the paper's step-by-step instruction; '' for none).")
    var suffix: String?

    /// The prompt format these options select (the paper's suffix when --suffix is not given).
    var format: PromptFormat {
        PromptFormat(systemMessage: system, instructionSuffix: suffix ?? PromptFormat.paperSuffix)
    }
}
