/// How a question becomes a chat prompt: an optional system message, then one user message holding
/// `question + instructionSuffix`.
///
/// The default is the paper's GSM8K prompt (see docs/TINYLORA.md): no system message and the suffix
/// ` Let's think step by step and output the final answer after "####".` (with its leading space).
public struct PromptFormat: Sendable, Equatable {
    public var systemMessage: String?
    public var instructionSuffix: String

    public static let paperSuffix = " Let's think step by step and output the final answer after \"####\"."

    public init(systemMessage: String? = nil, instructionSuffix: String = PromptFormat.paperSuffix) {
        self.systemMessage = systemMessage
        self.instructionSuffix = instructionSuffix
    }

    /// The paper's format.
    public static let standard = PromptFormat()

    /// The question as it is sent: no format at all (no system message, no suffix).
    public static let plain = PromptFormat(systemMessage: nil, instructionSuffix: "")

    /// [system?, user(question + suffix)].
    public func messages(question: String) -> [ChatTurn] {
        var out: [ChatTurn] = []
        if let systemMessage, !systemMessage.isEmpty { out.append(ChatTurn(role: "system", content: systemMessage)) }
        out.append(ChatTurn(role: "user", content: question + instructionSuffix))
        return out
    }
}
