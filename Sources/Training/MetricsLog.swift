import Foundation
import ModelFiles
#if canImport(Glibc)
import Glibc
private let closeFile = Glibc.close
#elseif canImport(Darwin)
import Darwin
private let closeFile = Darwin.close
#endif

/// One line of metrics: named numbers in the order they were set.
///
///     var r = MetricsRecord()
///     r["step"] = 1; r["reward_mean"] = 0.25
///     r.jsonLine == #"{"step":1,"reward_mean":0.25}"#
///
/// Integral values print without a fraction (`1`, not `1.0`), others in Swift's shortest round-trip form;
/// NaN and infinities print as `null` (they are not JSON numbers) and read back as nil.
public struct MetricsRecord: Equatable, Sendable {
    public private(set) var fields: [(key: String, value: Double?)] = []

    public init() {}

    public init(_ fields: KeyValuePairs<String, Double>) {
        for (k, v) in fields { self[k] = v }
    }

    /// Setting a key again replaces its value in place; setting nil keeps the key with a null value.
    public subscript(key: String) -> Double? {
        get { fields.first { $0.key == key }?.value ?? nil }
        set {
            if let i = fields.firstIndex(where: { $0.key == key }) {
                fields[i].value = newValue
            } else {
                fields.append((key, newValue))
            }
        }
    }

    public var keys: [String] { fields.map(\.key) }

    /// The compact JSON object, without a newline.
    public var jsonLine: String {
        "{" + fields.map { JSONText.quoted($0.key) + ":" + Self.number($0.value) }.joined(separator: ",") + "}"
    }

    static func number(_ x: Double?) -> String {
        guard let x, x.isFinite else { return "null" }
        if x == x.rounded(), abs(x) < 9.007_199_254_740_992e15 { return String(Int64(x)) }
        return "\(x)"
    }

    public static func == (a: MetricsRecord, b: MetricsRecord) -> Bool {
        a.fields.count == b.fields.count && zip(a.fields, b.fields).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}

/// The per-step metrics of a run: `DIR/metrics.jsonl`, one JSON object per line (see `MetricsRecord`).
///
/// Each `append` writes its whole line with one `write(2)`, so a killed run leaves complete lines (and at most
/// one partial last line). A resumed run opens the log with the checkpoint's line count: lines after it (and
/// a partial line) are cut off, so the file ends up equal to an uninterrupted run's.
public final class MetricsLog {
    public let url: URL
    /// Lines in the file (the value to store in a checkpoint).
    public private(set) var lineCount: Int
    private var fd: Int32

    /// Opens `url` for appending. `keepingLines` nil starts a new file (an existing one is emptied); a number
    /// keeps exactly that many leading lines of the existing file (an error when it has fewer).
    public init(url: URL, keepingLines: Int? = nil) throws {
        self.url = url
        var keep = 0
        if let keepingLines {
            guard keepingLines >= 0 else { throw MetricsError("cannot keep \(keepingLines) lines of \(url.path)") }
            let data: Data
            if keepingLines == 0 {
                data = Data()
            } else {
                do {
                    data = try Data(contentsOf: url)
                } catch {
                    throw MetricsError("cannot read \(url.path) to resume it: \((error as NSError).localizedDescription)")
                }
            }
            var offset = 0
            var lines = 0
            data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
                let bytes = raw.bindMemory(to: UInt8.self)
                while lines < keepingLines, offset < bytes.count {
                    if bytes[offset] == 0x0A { lines += 1 }
                    offset += 1
                }
            }
            guard lines == keepingLines else {
                throw MetricsError("\(url.path) has \(lines) complete lines, the checkpoint expects at least \(keepingLines)")
            }
            keep = offset
        }
        fd = open(url.path, O_WRONLY | O_CREAT, 0o644)
        guard fd >= 0 else { throw MetricsError("cannot open \(url.path): \(String(cString: strerror(errno)))") }
        guard ftruncate(fd, off_t(keep)) == 0, lseek(fd, off_t(keep), SEEK_SET) >= 0 else {
            let message = String(cString: strerror(errno))
            _ = closeFile(fd)
            throw MetricsError("cannot truncate \(url.path): \(message)")
        }
        lineCount = keepingLines ?? 0
    }

    deinit { if fd >= 0 { _ = closeFile(fd) } }

    /// Appends one line and hands it to the kernel (visible to readers at once; fsync is left to checkpoints).
    public func append(_ record: MetricsRecord) throws {
        let line = Array((record.jsonLine + "\n").utf8)
        var done = 0
        while done < line.count {
            let n = line.withUnsafeBytes { write(fd, $0.baseAddress! + done, line.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw MetricsError("cannot write to \(url.path): \(String(cString: strerror(errno)))")
            }
            done += n
        }
        lineCount += 1
    }

    /// Forces the lines written so far to disk (call before saving a checkpoint that records `lineCount`).
    public func sync() throws {
        guard fsync(fd) == 0 else { throw MetricsError("cannot flush \(url.path): \(String(cString: strerror(errno)))") }
    }

    public func close() {
        if fd >= 0 { _ = closeFile(fd) }
        fd = -1
    }

    // MARK: - Reading

    /// Reads a metrics file: every non-empty line must be a JSON object whose values are numbers or null
    /// (other values — strings, booleans — are skipped). Errors name the file and line.
    public static func read(_ url: URL) throws -> [MetricsRecord] {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw MetricsError("cannot read metrics file \(url.path): \((error as NSError).localizedDescription)")
        }
        var records: [MetricsRecord] = []
        var lineNumber = 0
        for line in data.split(separator: 0x0A, omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            do {
                records.append(try parseLine(Data(line)))
            } catch let e as MetricsError {
                throw MetricsError("\(url.path) line \(lineNumber): \(e.description)")
            }
        }
        return records
    }

    /// One JSON object line, keys in the order written.
    static func parseLine(_ line: Data) throws -> MetricsRecord {
        let object: LineObject
        do {
            object = try JSONDecoder().decode(LineObject.self, from: line)
        } catch {
            throw MetricsError("not a JSON object: \(String(decoding: line.prefix(80), as: UTF8.self))")
        }
        var record = MetricsRecord()
        let order = orderedKeys(line)
        let keys = Set(order) == Set(object.values.keys) ? order : object.values.keys.sorted()
        for key in keys { record[key] = object.values[key]! }
        return record
    }

    private struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// A line's numeric and null values (others skipped).
    private struct LineObject: Decodable {
        var values: [String: Double?] = [:]
        init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: AnyKey.self)
            for key in c.allKeys {
                if try c.decodeNil(forKey: key) {
                    values[key.stringValue] = .some(nil)
                } else if let d = try? c.decode(Double.self, forKey: key) {
                    values[key.stringValue] = d
                }
            }
        }
    }

    /// The top-level keys of a JSON object line in file order (decoders do not keep it): the strings at depth
    /// 1 that follow `{` or `,`.
    static func orderedKeys(_ line: Data) -> [String] {
        let bytes = [UInt8](line)
        var keys: [String] = []
        var depth = 0
        var expectKey = false
        var i = 0
        while i < bytes.count {
            switch bytes[i] {
            case UInt8(ascii: "\""):
                var j = i + 1
                while j < bytes.count, bytes[j] != UInt8(ascii: "\"") {
                    j += bytes[j] == UInt8(ascii: "\\") ? 2 : 1
                }
                if depth == 1, expectKey, j < bytes.count,
                   let k = try? JSONDecoder().decode(String.self, from: Data(bytes[i ... j])) {
                    keys.append(k)
                }
                expectKey = false
                i = j
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                expectKey = depth == 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
            case UInt8(ascii: ","):
                expectKey = depth == 1
            default:
                break
            }
            i += 1
        }
        return keys
    }

    /// The points of `key`, x being the record's `xKey` value (or its 1-based index when nil or missing); records
    /// without a finite value for key are skipped. With `intervalKeys` (low, high), a record holding finite values
    /// of both gives its point that interval.
    public static func series(_ records: [MetricsRecord], key: String, xKey: String? = "step",
                              intervalKeys: (low: String, high: String)? = nil) -> [PlotPoint] {
        var points: [PlotPoint] = []
        for (i, r) in records.enumerated() {
            guard let y = r[key], y.isFinite else { continue }
            let x = xKey.flatMap { r[$0] } ?? Double(i + 1)
            var interval: ClosedRange<Double>?
            if let (low, high) = intervalKeys, let a = r[low], let b = r[high], a.isFinite, b.isFinite {
                interval = min(a, b) ... max(a, b)
            }
            points.append(PlotPoint(x: x, y: y, interval: interval))
        }
        return points
    }
}

/// A metrics file that cannot be written or read.
public struct MetricsError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ message: String) { description = message }
}
