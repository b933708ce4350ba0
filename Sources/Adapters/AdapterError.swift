/// An adapter problem (bad configuration, bad file, mismatched base model), with a message naming it.
public struct AdapterError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
