import CZlib

/// gzip (RFC 1952) decompression through zlib. Concatenated members (as `cat a.gz b.gz` makes) decompress to the
/// concatenation of their contents; zero bytes after the last member (tar-style padding) are ignored.
public enum Gzip {
    /// Decompresses a whole .gz file. Throws on a missing file, corrupt or truncated data, trailing garbage, or
    /// output larger than `maxBytes` (a guard against decompression bombs).
    public static func decompress(path: String, maxBytes: Int = 1 << 34) throws -> [UInt8] {
        let file = try MappedFile(path: path)
        return try decompress(file.bytes, maxBytes: maxBytes, context: path)
    }

    public static func decompress(_ input: UnsafeRawBufferPointer, maxBytes: Int = 1 << 34,
                                  context: String = "gzip data") throws -> [UInt8] {
        guard input.count >= 2, input[0] == 0x1F, input[1] == 0x8B else {
            throw ModelFileError("\(context): not gzip data (bad magic)")
        }
        var stream = z_stream()
        // 16 + MAX_WBITS: expect a gzip header and trailer (CRC-32 and length are checked by zlib).
        guard inflateInit2_(&stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw ModelFileError("\(context): cannot initialise zlib")
        }
        defer { inflateEnd(&stream) }

        var output: [UInt8] = []
        output.reserveCapacity(min(maxBytes, max(1 << 16, input.count * 4)))
        var chunk = [UInt8](repeating: 0, count: 1 << 18)
        var consumed = 0
        var member = 1
        while true {
            let remaining = input.count - consumed
            let chunkCount = chunk.count
            // Feed at most UInt32.max bytes at a time (avail_in is 32-bit).
            let feed = min(remaining, Int(UInt32.max))
            var result: Int32 = Z_OK
            var produced = 0
            var used = 0
            chunk.withUnsafeMutableBytes { out in
                stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress!.assumingMemoryBound(to: Bytef.self) + consumed)
                stream.avail_in = uInt(feed)
                stream.next_out = out.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.avail_out = uInt(chunkCount)
                result = inflate(&stream, Z_NO_FLUSH)
                produced = chunkCount - Int(stream.avail_out)
                used = feed - Int(stream.avail_in)
            }
            consumed += used
            guard output.count + produced <= maxBytes else {
                throw ModelFileError("\(context): decompressed data exceeds the limit of \(maxBytes) bytes")
            }
            output.append(contentsOf: chunk[0 ..< produced])
            switch result {
            case Z_OK:
                if used == 0 && produced == 0 {
                    throw ModelFileError("\(context): truncated gzip data (member \(member) ends early)")
                }
            case Z_STREAM_END:
                // Another member may follow; zero padding may end the file.
                let rest = UnsafeRawBufferPointer(rebasing: input[consumed...])
                if rest.allSatisfy({ $0 == 0 }) { return output }
                guard rest.count >= 2, rest[0] == 0x1F, rest[1] == 0x8B else {
                    throw ModelFileError("\(context): trailing garbage after gzip member \(member) (at byte \(consumed))")
                }
                guard inflateReset(&stream) == Z_OK else { throw ModelFileError("\(context): cannot reset zlib") }
                member += 1
            case Z_BUF_ERROR:
                if consumed >= input.count || (used == 0 && produced == 0) {
                    throw ModelFileError("\(context): truncated gzip data (member \(member) ends early)")
                }
            default:
                let reason = stream.msg.map { String(cString: $0) } ?? "error \(result)"
                throw ModelFileError("\(context): corrupt gzip data in member \(member): \(reason)")
            }
        }
    }
}
