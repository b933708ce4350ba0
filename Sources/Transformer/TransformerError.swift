/// Problems loading or running a transformer, each with a message a user can act on.
public struct TransformerError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
