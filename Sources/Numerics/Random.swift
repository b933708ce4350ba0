import Foundation

/// SplitMix64 (Steele, Lea & Flood 2014, as in Vigna's public-domain `splitmix64.c`): a 64-bit counter advanced by
/// the golden-ratio increment `0x9E3779B97F4A7C15`, each value passed through the `mix` finalizer. Used only to
/// expand a 64-bit seed into xoshiro256** state, and to derive stream seeds.
public struct SplitMix64 {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    /// state += 0x9E3779B97F4A7C15; return mix(state).
    @inline(__always)
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        return SplitMix64.mix(state)
    }

    /// The SplitMix64 finalizer (a bijection on UInt64, mix(0) = 0):
    /// z ^= z >> 30; z *= 0xBF58476D1CE4E5B9; z ^= z >> 27; z *= 0x94D049BB133111EB; z ^= z >> 31.
    @inline(__always)
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// The portable pseudo-random generator of the project: xoshiro256** 1.0 (Blackman & Vigna 2018,
/// https://prng.di.unimi.it/xoshiro256starstar.c), seeded through SplitMix64.
///
/// Every value below is defined by integer arithmetic only, so a (seed, stream) gives the same stream on every machine
/// and compiler:
/// - `next()`: result = rotl(s1 × 5, 7) × 9; t = s1 << 17; s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t;
///   s3 = rotl(s3, 45).
/// - `init(seed:)`: (s0, s1, s2, s3) = the first four outputs of SplitMix64 started at `seed` (the seeding Vigna
///   recommends; it never yields the all-zero state in practice).
/// - `init(seed:stream:)`: independent streams, e.g. one per (module index) or per (prompt, sample):
///   `init(seed: streamSeed(seed, stream))` with streamSeed(seed, stream) = mix(seed ^ mix(stream + 0x9E3779B97F4A7C15))
///   (wrapping add). For a fixed seed this map is a bijection of `stream`, so distinct streams never share a seed.
///   Nest it for two-level indices: `streamSeed(streamSeed(seed, prompt), sample)`.
/// - `nextDouble()` = (next() >> 11) · 2⁻⁵³ ∈ [0, 1); `nextFloat()` = (next() >> 40) · 2⁻²⁴ ∈ [0, 1).
/// - `next(below: n)`: Lemire's multiply-shift with rejection (unbiased): m = next() × n as 128 bits; while
///   low64(m) < (2⁶⁴ − n) mod n, redraw; return high64(m).
/// - `nextNormalPair()`: Box–Muller: u1 = 1 − nextDouble() ∈ (0, 1], u2 = nextDouble(), r = √(−2 ln u1),
///   θ = 2π·u2, returns (r·cos θ, r·sin θ), two independent N(0, 1) values. `nextNormal()` returns the first and
///   discards the second (two uniforms per call). These go through libm's `log`, `cos`, `sin`, which are not
///   guaranteed correctly rounded: across C libraries a value may differ in the last bit of the Double (values
///   rounded to Float are then virtually always identical).
///
/// It conforms to `RandomNumberGenerator`, but only the methods above are portable: the standard library's
/// algorithms (`shuffle(using:)`, `Int.random(in:using:)`) may change between Swift versions.
public struct Xoshiro256StarStar: RandomNumberGenerator {
    public private(set) var s0: UInt64
    public private(set) var s1: UInt64
    public private(set) var s2: UInt64
    public private(set) var s3: UInt64

    public init(seed: UInt64) {
        var splitMix = SplitMix64(seed: seed)
        s0 = splitMix.next()
        s1 = splitMix.next()
        s2 = splitMix.next()
        s3 = splitMix.next()
    }

    /// The stream `stream` of `seed` (see the type's documentation).
    public init(seed: UInt64, stream: UInt64) {
        self.init(seed: Xoshiro256StarStar.streamSeed(seed, stream))
    }

    /// A generator with this exact state; nil for the all-zero state, which xoshiro cannot leave.
    public init?(state: (UInt64, UInt64, UInt64, UInt64)) {
        guard state != (0, 0, 0, 0) else { return nil }
        (s0, s1, s2, s3) = state
    }

    /// streamSeed(seed, stream) = mix(seed ^ mix(stream &+ 0x9E3779B97F4A7C15)).
    public static func streamSeed(_ seed: UInt64, _ stream: UInt64) -> UInt64 {
        SplitMix64.mix(seed ^ SplitMix64.mix(stream &+ 0x9E37_79B9_7F4A_7C15))
    }

    @inline(__always)
    private static func rotateLeft(_ x: UInt64, _ k: UInt64) -> UInt64 {
        (x << k) | (x >> (64 - k))
    }

    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = Xoshiro256StarStar.rotateLeft(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = Xoshiro256StarStar.rotateLeft(s3, 45)
        return result
    }

    /// Uniform in [0, 1) with 53 random bits.
    @inline(__always)
    public mutating func nextDouble() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// Uniform in [0, 1) with 24 random bits.
    @inline(__always)
    public mutating func nextFloat() -> Float {
        Float(next() >> 40) * 0x1.0p-24
    }

    /// Uniform integer in [0, bound), unbiased; 0 when bound is 0.
    public mutating func next(below bound: UInt64) -> UInt64 {
        guard bound > 0 else { return 0 }
        var product = next().multipliedFullWidth(by: bound)
        if product.low < bound {
            let threshold = (0 &- bound) % bound
            while product.low < threshold {
                product = next().multipliedFullWidth(by: bound)
            }
        }
        return product.high
    }

    /// Two independent standard normal values (Box–Muller, see the type's documentation).
    public mutating func nextNormalPair() -> (Double, Double) {
        let u1 = 1.0 - nextDouble()
        let u2 = nextDouble()
        let radius = (-2.0 * Foundation.log(u1)).squareRoot()
        let angle = 2.0 * Double.pi * u2
        return (radius * Foundation.cos(angle), radius * Foundation.sin(angle))
    }

    /// One standard normal value: the first of `nextNormalPair()`.
    public mutating func nextNormal() -> Double {
        nextNormalPair().0
    }

    /// Fills `buffer` with mean + standardDeviation · N(0, 1), using both values of each Box–Muller pair in order
    /// (element 2i gets the cosine value, 2i+1 the sine value; an odd last element discards its sine value).
    public mutating func fillNormal(_ buffer: UnsafeMutableBufferPointer<Float>, mean: Float = 0,
                                    standardDeviation: Float = 1) {
        var i = 0
        while i < buffer.count {
            let (a, b) = nextNormalPair()
            buffer[i] = mean + standardDeviation * Float(a)
            if i + 1 < buffer.count { buffer[i + 1] = mean + standardDeviation * Float(b) }
            i += 2
        }
    }

    /// `count` values of mean + standardDeviation · N(0, 1) (see `fillNormal`).
    public mutating func normalFloats(count: Int, mean: Float = 0, standardDeviation: Float = 1) -> [Float] {
        var result = [Float](repeating: 0, count: max(count, 0))
        result.withUnsafeMutableBufferPointer { fillNormal($0, mean: mean, standardDeviation: standardDeviation) }
        return result
    }
}
