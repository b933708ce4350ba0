/// One chat message. `extra` holds further fields a template may read (e.g. "name"), as strings.
public struct ChatMessage: Sendable, Equatable {
    public var role: String
    public var content: String
    public var extra: [String: String]

    public init(role: String, content: String, extra: [String: String] = [:]) {
        self.role = role
        self.content = content
        self.extra = extra
    }
}

/// A Jinja chat template (the subset of Jinja2 that chat templates use), rendered the way transformers'
/// `apply_chat_template(..., tokenize=False)` renders it: trim_blocks and lstrip_blocks on, no autoescape,
/// `raise_exception`, `namespace`, `strftime_now`, and a `tojson` that keeps non-ASCII text.
public struct ChatTemplate: @unchecked Sendable {
    public let source: String
    private let nodes: [JinjaNode]

    /// Parses the template; a syntax error names its line.
    public init(_ source: String) throws {
        self.source = source
        self.nodes = try JinjaParser.parse(source)
    }

    /// Renders `messages`. Variables: `messages` (dicts with role, content and the extra fields),
    /// `add_generation_prompt`, `bos_token`, `eos_token`, `tools` (none), plus `extraContext`.
    public func render(
        messages: [ChatMessage], addGenerationPrompt: Bool, bosToken: String? = nil, eosToken: String? = nil,
        extraContext: [String: JinjaValue] = [:]
    ) throws -> String {
        let list: [JinjaValue] = messages.map { m in
            var d = JinjaDict([("role", .string(m.role)), ("content", .string(m.content))])
            for key in m.extra.keys.sorted() { d[key] = .string(m.extra[key]!) }
            return .dict(d)
        }
        var globals: [String: JinjaValue] = [
            "messages": .array(list),
            "add_generation_prompt": .bool(addGenerationPrompt),
            "bos_token": .from(bosToken),
            "eos_token": .from(eosToken),
            "tools": .none,
            "documents": .none,
        ]
        globals.merge(extraContext) { _, new in new }
        return try render(globals: globals)
    }

    /// Renders with any variables.
    public func render(globals: [String: JinjaValue]) throws -> String {
        try JinjaEvaluator(globals: globals).render(nodes)
    }
}

extension Tokenizer {
    /// The model's own chat template, parsed (an error if the model has none).
    public func parsedChatTemplate() throws -> ChatTemplate {
        guard let chatTemplate else { throw TokenizerError("this model has no chat template") }
        return try withParsedTemplateCache { cached in
            if let cached { return cached }
            return try ChatTemplate(chatTemplate)
        }
    }

    /// Renders `messages` with the model's template and its BOS/EOS token texts.
    public func applyChatTemplate(_ messages: [ChatMessage], addGenerationPrompt: Bool) throws -> String {
        try parsedChatTemplate().render(
            messages: messages, addGenerationPrompt: addGenerationPrompt,
            bosToken: bosToken, eosToken: eosToken)
    }

    /// The ids of the rendered chat, special tokens in it parsed and no BOS added (the template writes any
    /// BOS it wants; transformers' `apply_chat_template(tokenize=True)` does the same).
    public func encodeChat(_ messages: [ChatMessage], addGenerationPrompt: Bool) throws -> [Int] {
        encode(try applyChatTemplate(messages, addGenerationPrompt: addGenerationPrompt), parseSpecial: true, addBOS: false)
    }
}
