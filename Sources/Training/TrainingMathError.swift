/// Bad input to the training math (advantages, losses, optimizer, schedule), with a message naming the problem.
public struct TrainingMathError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
