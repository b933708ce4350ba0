import Foundation

/// The loop's position saved beside the adapter and optimizer in a checkpoint (file `state.json`):
///
///     {"data_cursor":120,"metrics_lines":40,"rng":["9e3779b97f4a7c15", ...],"skipped_steps":0,"step":40}
///
/// `rng` holds random generator state words as 16-digit hex strings (JSON numbers lose bits above 2^53);
/// `metrics_lines` is how many lines metrics.jsonl had at the checkpoint, so a resumed run truncates the file
/// to it and its metrics equal an uninterrupted run's.
public struct CheckpointState: Codable, Equatable, Sendable {
    public static let fileName = "state.json"

    public var step: Int
    public var dataCursor: Int
    public var metricsLines: Int
    public var rng: [UInt64]
    public var skippedSteps: Int

    public init(step: Int, dataCursor: Int, metricsLines: Int, rng: [UInt64], skippedSteps: Int = 0) {
        self.step = step
        self.dataCursor = dataCursor
        self.metricsLines = metricsLines
        self.rng = rng
        self.skippedSteps = skippedSteps
    }

    enum CodingKeys: String, CodingKey {
        case step, dataCursor = "data_cursor", metricsLines = "metrics_lines", rng, skippedSteps = "skipped_steps"
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        step = try c.decode(Int.self, forKey: .step)
        dataCursor = try c.decode(Int.self, forKey: .dataCursor)
        metricsLines = try c.decode(Int.self, forKey: .metricsLines)
        skippedSteps = try c.decodeIfPresent(Int.self, forKey: .skippedSteps) ?? 0
        let words = try c.decode([String].self, forKey: .rng)
        rng = try words.map { w in
            guard w.count == 16, let v = UInt64(w, radix: 16) else {
                throw DecodingError.dataCorruptedError(forKey: .rng, in: c, debugDescription: "'\(w)' is not a 16-digit hex word")
            }
            return v
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(step, forKey: .step)
        try c.encode(dataCursor, forKey: .dataCursor)
        try c.encode(metricsLines, forKey: .metricsLines)
        try c.encode(skippedSteps, forKey: .skippedSteps)
        try c.encode(rng.map { w in
            let hex = String(w, radix: 16)
            return String(repeating: "0", count: 16 - hex.count) + hex
        }, forKey: .rng)
    }

    /// Compact JSON with sorted keys, for a checkpoint file.
    public func jsonData() throws -> Data { try CheckpointState.jsonData(self) }

    /// Any Codable value (e.g. optimizer state) as compact JSON with sorted keys. Non-finite floats are an error.
    public static func jsonData<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        do {
            return try encoder.encode(value)
        } catch {
            throw CheckpointError("cannot encode \(T.self) as JSON: \(error)")
        }
    }
}
