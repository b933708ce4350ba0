#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

#if canImport(Glibc)
private let systemWrite = Glibc.write
#else
private let systemWrite = Darwin.write
#endif

/// Writes a file atomically: bytes go to a fresh temporary file in the destination's directory, which is
/// flushed to disk (fsync) and then renamed over the destination. Readers see either the old file or the
/// complete new one, never a partial write. If `commit()` is never reached the temporary file is removed.
public final class AtomicFileWriter {
    public let path: String
    let tempPath: String
    private var fd: Int32
    private var buffer: [UInt8] = []
    private static let bufferLimit = 1 << 20
    /// Bytes written so far (including buffered ones).
    public private(set) var bytesWritten = 0

    public init(path: String) throws {
        self.path = path
        let random = UInt64.random(in: 0 ... UInt64.max)
        tempPath = "\(path).tmp-\(getpid())-\(String(random, radix: 36))"
        fd = open(tempPath, O_WRONLY | O_CREAT | O_EXCL | O_TRUNC, 0o644)
        guard fd >= 0 else {
            throw ModelFileError("cannot create \(tempPath): \(String(cString: strerror(errno)))")
        }
        buffer.reserveCapacity(Self.bufferLimit)
    }

    /// Writes `bytes` to `path` atomically in one call.
    public static func write(_ bytes: [UInt8], to path: String) throws {
        let writer = try AtomicFileWriter(path: path)
        try writer.write(bytes)
        try writer.commit()
    }

    deinit {
        if fd >= 0 {
            close(fd)
            unlink(tempPath)
        }
    }

    public func write(_ bytes: UnsafeRawBufferPointer) throws {
        bytesWritten += bytes.count
        if buffer.count + bytes.count <= Self.bufferLimit {
            buffer.append(contentsOf: bytes)
            return
        }
        try flush()
        try writeAll(bytes)
    }

    public func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Writes `count` zero bytes.
    public func writeZeros(_ count: Int) throws {
        if count > 0 { try write([UInt8](repeating: 0, count: count)) }
    }

    /// Flushes, fsyncs and renames the temporary file over `path`.
    public func commit() throws {
        try flush()
        guard fsync(fd) == 0 else { throw failure("cannot flush") }
        guard close(fd) == 0 else {
            fd = -1
            unlink(tempPath)
            throw ModelFileError("cannot close \(tempPath): \(String(cString: strerror(errno)))")
        }
        fd = -1
        guard rename(tempPath, path) == 0 else {
            let message = String(cString: strerror(errno))
            unlink(tempPath)
            throw ModelFileError("cannot rename \(tempPath) to \(path): \(message)")
        }
        // Make the rename itself durable.
        let dir = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
        let dfd = open(dir.isEmpty ? "/" : dir, O_RDONLY)
        if dfd >= 0 {
            _ = fsync(dfd)
            close(dfd)
        }
    }

    private func flush() throws {
        if buffer.isEmpty { return }
        try buffer.withUnsafeBytes { try writeAll($0) }
        buffer.removeAll(keepingCapacity: true)
    }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = systemWrite(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                throw failure("cannot write")
            }
            done += n
        }
    }

    private func failure(_ what: String) -> ModelFileError {
        ModelFileError("\(what) \(tempPath) (for \(path)): \(String(cString: strerror(errno)))")
    }
}
