/// XXH64 (Yann Collet's xxHash, 64-bit variant; specification in xxHash's `doc/xxhash_spec.md`), used for the
/// per-module weight digests of `BaseFingerprint`: ~10× faster than SHA-256 on this machine, which matters for
/// the 1.4 GB of fp32 target weights of a 0.5B model.
///
/// With primes P1 = 0x9E3779B185EBCA87, P2 = 0xC2B2AE3D27D4EB4F, P3 = 0x165667B19E3779F9, P4 = 0x85EBCA77C2B2AE63,
/// P5 = 0x27D4EB2F165667C5, all arithmetic modulo 2⁶⁴, lanes read little-endian:
/// - round(acc, x) = rotl(acc + x·P2, 31)·P1; merge(h, v) = (h ^ round(0, v))·P1 + P4.
/// - length ≥ 32: lanes v1..v4 = seed + P1 + P2, seed + P2, seed, seed − P1 take 32-byte stripes (8 bytes each
///   through `round`); h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18), then merged with v1..v4.
///   Otherwise h = seed + P5.
/// - h += length; each remaining 8 bytes: h = rotl(h ^ round(0, x), 27)·P1 + P4; 4 bytes:
///   h = rotl(h ^ x·P1, 23)·P2 + P3; each byte: h = rotl(h ^ b·P5, 11)·P1.
/// - avalanche: h ^= h >> 33; h ·= P2; h ^= h >> 29; h ·= P3; h ^= h >> 32.
public enum XXHash64 {
    static let p1: UInt64 = 0x9E37_79B1_85EB_CA87
    static let p2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    static let p3: UInt64 = 0x1656_67B1_9E37_79F9
    static let p4: UInt64 = 0x85EB_CA77_C2B2_AE63
    static let p5: UInt64 = 0x27D4_EB2F_1656_67C5

    @inline(__always) static func rotl(_ x: UInt64, _ r: UInt64) -> UInt64 { (x << r) | (x >> (64 - r)) }

    @inline(__always) static func round(_ acc: UInt64, _ x: UInt64) -> UInt64 {
        rotl(acc &+ x &* p2, 31) &* p1
    }

    @inline(__always) static func merge(_ h: UInt64, _ v: UInt64) -> UInt64 {
        (h ^ round(0, v)) &* p1 &+ p4
    }

    @inline(__always) static func read64(_ p: UnsafeRawPointer, _ offset: Int) -> UInt64 {
        UInt64(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    public static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        let n = bytes.count
        guard let p = bytes.baseAddress, n > 0 else { return avalanche(seed &+ p5) }
        var offset = 0
        var h: UInt64
        if n >= 32 {
            var v1 = seed &+ p1 &+ p2, v2 = seed &+ p2, v3 = seed, v4 = seed &- p1
            while offset + 32 <= n {
                v1 = round(v1, read64(p, offset))
                v2 = round(v2, read64(p, offset + 8))
                v3 = round(v3, read64(p, offset + 16))
                v4 = round(v4, read64(p, offset + 24))
                offset += 32
            }
            h = rotl(v1, 1) &+ rotl(v2, 7) &+ rotl(v3, 12) &+ rotl(v4, 18)
            h = merge(h, v1)
            h = merge(h, v2)
            h = merge(h, v3)
            h = merge(h, v4)
        } else {
            h = seed &+ p5
        }
        h = h &+ UInt64(n)
        while offset + 8 <= n {
            h = rotl(h ^ round(0, read64(p, offset)), 27) &* p1 &+ p4
            offset += 8
        }
        if offset + 4 <= n {
            let x = UInt64(UInt32(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
            h = rotl(h ^ (x &* p1), 23) &* p2 &+ p3
            offset += 4
        }
        while offset < n {
            h = rotl(h ^ (UInt64(bytes[offset]) &* p5), 11) &* p1
            offset += 1
        }
        return avalanche(h)
    }

    public static func hash(_ bytes: [UInt8], seed: UInt64 = 0) -> UInt64 {
        bytes.withUnsafeBytes { hash($0, seed: seed) }
    }

    @inline(__always) static func avalanche(_ value: UInt64) -> UInt64 {
        var h = value
        h ^= h >> 33
        h = h &* p2
        h ^= h >> 29
        h = h &* p3
        h ^= h >> 32
        return h
    }
}
