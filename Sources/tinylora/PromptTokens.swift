import ModelFiles

/// Turns the prompt options into token ids with the model's tokenizer (and chat template for --messages).
enum PromptTokens {
    struct Encoded {
        var ids: [Int]
        /// The rendered chat text (with --messages).
        var renderedText: String?
    }

    static func encode(_ prompt: PromptOptions, location: ModelLocation) throws -> Encoded {
        // Inputs are read and checked before the model is touched.
        if let path = prompt.messages {
            _ = try readMessagesFile(path)
        } else {
            _ = try prompt.plainText()
        }
        throw CLIError("tokenization is not available yet (the tokenizer has not been wired into the CLI)")
    }
}
