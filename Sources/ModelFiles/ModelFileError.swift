/// Every problem found while reading or writing a model file, each with a message a user can act on.
public struct ModelFileError: Error, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
