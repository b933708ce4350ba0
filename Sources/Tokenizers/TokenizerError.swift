import Foundation

/// Errors from building or using a tokenizer or a chat template. The message names the problem.
public struct TokenizerError: Error, CustomStringConvertible, Equatable, Sendable {
    public let message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

extension TokenizerError: LocalizedError {
    public var errorDescription: String? { message }
}
