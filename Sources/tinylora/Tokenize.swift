import ArgumentParser
import ModelFiles

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the token ids of a text or of a chat rendered with the model's template.",
        discussion: """
        --text / --text-file: control tokens written in the text are parsed, and BOS is added when the model asks \
        for it (as llama.cpp's tokenize with special=true). --messages: the chat template is rendered (with the \
        assistant header when --add-generation-prompt is given) and tokenized like transformers' \
        apply_chat_template(tokenize=True). JSON form: {"ids":[...]}, plus "text" (the rendered chat) with --messages.
        """)

    @Option(help: "A built-in model name (smollm2-135m, qwen2.5-coder-0.5b; fetched on first use), a .gguf path or a Hugging Face model directory.")
    var model: String

    @OptionGroup var prompt: PromptOptions

    @Flag(help: "With --messages: end the rendered chat with the assistant's turn header.")
    var addGenerationPrompt = false

    @Flag(help: "Print one JSON object.")
    var json = false

    @Option(help: "Accepted and ignored (adapters do not change tokenization), so scripts can pass score's flags.")
    var adapter: String?

    func validate() throws {
        guard prompt.givenCount == 1 else { throw ValidationError("give exactly one of --text, --text-file, --messages") }
        if addGenerationPrompt && prompt.messages == nil {
            throw ValidationError("--add-generation-prompt needs --messages")
        }
    }

    func run() throws {
        let input = try prompt.read()
        let tokenizer = try OpenedModel(location: resolveModel(model), threads: 1).tokenizer()
        let (ids, rendered) = try input.encode(with: tokenizer, addGenerationPrompt: addGenerationPrompt)
        if json {
            var fields = [("ids", JSON.ints(ids))]
            if let rendered { fields.append(("text", JSON.string(rendered))) }
            print(JSON.object(fields))
        } else {
            if let rendered { print(rendered) }
            print(ids.map(String.init).joined(separator: " "))
        }
    }
}
