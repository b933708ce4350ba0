import ArgumentParser
import Tokenizers

/// The prompt options shared by tokenize, score and generate: exactly one of --text, --text-file, --messages.
struct PromptOptions: ParsableArguments {
    @Option(help: "The input text. Control tokens written in it (like <|im_start|>) are parsed as such.")
    var text: String?

    @Option(help: "A UTF-8 file holding the input text (read as --text).")
    var textFile: String?

    @Option(help: "A JSON file holding an array of {\"role\", \"content\"} chat messages, rendered with the model's chat template.")
    var messages: String?

    /// How many of --text, --text-file, --messages were given.
    var givenCount: Int { [text != nil, textFile != nil, messages != nil].filter { $0 }.count }

    /// Reads the input (before any model is loaded, so bad input fails fast).
    func read() throws -> PromptInput {
        if let text { return .text(text) }
        if let textFile { return .text(try readUTF8File(textFile, what: "text file")) }
        if let messages { return .messages(try readMessagesFile(messages)) }
        throw CLIError("no input: give --text, --text-file or --messages")
    }
}

/// What the user asked to run the model on.
enum PromptInput {
    case text(String)
    case messages([InputMessage])

    /// Token ids. Plain text: control tokens parsed, BOS as the model's settings say. Messages: the chat template
    /// rendered (`renderedText`) and tokenized as transformers' `apply_chat_template(tokenize=True)` does.
    func encode(with tokenizer: Tokenizer, addGenerationPrompt: Bool) throws -> (ids: [Int], renderedText: String?) {
        switch self {
        case .text(let text):
            return (tokenizer.encode(text, parseSpecial: true), nil)
        case .messages(let messages):
            let chat = messages.map { ChatMessage(role: $0.role, content: $0.content) }
            let rendered = try tokenizer.applyChatTemplate(chat, addGenerationPrompt: addGenerationPrompt)
            return (try tokenizer.encodeChat(chat, addGenerationPrompt: addGenerationPrompt), rendered)
        }
    }
}
