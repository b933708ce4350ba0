/// One message of a chat prompt (`role` is "system", "user" or "assistant"). Named `ChatTurn` rather than
/// `ChatMessage` so that code importing both Tasks and Tokenizers (whose `ChatMessage` feeds the chat template)
/// needs no module qualification.
public struct ChatTurn: Codable, Sendable, Equatable {
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }
}

/// One dataset item: a chat prompt, an optional reference completion and an optional gold answer.
public struct Example: Sendable, Equatable {
    /// Unique within its dataset: `<dataset>-<n>` (n = 0-based record index) unless the record names its own id.
    public var id: String
    /// The prompt as a chat, ending with the user turn (render it with the model's template and the assistant
    /// header to generate).
    public var messages: [ChatTurn]
    /// The reference completion for SFT: a GSM8K-style worked answer ending in `#### N`, a record's `completion`,
    /// or the final assistant message of a `messages` record.
    public var completion: String?
    /// The final answer the rewards compare against (e.g. "42" from "#### 42"); nil when the record has none.
    public var goldAnswer: String?

    public init(id: String, messages: [ChatTurn], completion: String? = nil, goldAnswer: String? = nil) {
        self.id = id
        self.messages = messages
        self.completion = completion
        self.goldAnswer = goldAnswer
    }

    /// The content of the last user message: the question as the model sees it (with any instruction suffix).
    public var promptText: String {
        messages.last(where: { $0.role == "user" })?.content ?? messages.last?.content ?? ""
    }
}

/// A named list of examples.
public struct Dataset: Sendable, Equatable {
    /// The spec or file name it came from (used in ids and reports).
    public var name: String
    public var examples: [Example]

    public init(name: String, examples: [Example]) {
        self.name = name
        self.examples = examples
    }

    public var count: Int { examples.count }

    /// The first `limit` examples (all when nil or larger than the dataset).
    public func prefix(_ limit: Int?) -> Dataset {
        guard let limit, limit < examples.count else { return self }
        return Dataset(name: name, examples: Array(examples.prefix(max(0, limit))))
    }
}

/// Every problem with a dataset or a reward specification, with a message a user can act on.
public struct TaskError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
