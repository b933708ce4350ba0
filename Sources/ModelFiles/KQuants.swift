/// Decoders for ggml's 256-element "K" super-block quantizations. `d`/`dmin` are IEEE fp16. Elements are
/// grouped in sub-blocks (16 of 16 or 8 of 32 elements), each with its own scale (and min).
///
/// | type | bytes | layout (in order)                                   | value                            |
/// |------|-------|-----------------------------------------------------|----------------------------------|
/// | Q2_K | 84    | scales[16] (lo nibble sc, hi nibble m), qs[64], d, dmin | (d*sc) * q - (dmin*m), q 2-bit |
/// | Q3_K | 110   | hmask[32], qs[64], scales[12] (6-bit packed), d     | (d*(sc-32)) * (q - 4*(1-hbit))    |
/// | Q4_K | 144   | d, dmin, scales[12] (6-bit sc and m for 8 sub-blocks), qs[128] | (d*sc) * q - (dmin*m)  |
/// | Q5_K | 176   | d, dmin, scales[12], qh[32], qs[128]                | (d*sc) * (q | hbit<<4) - (dmin*m) |
/// | Q6_K | 210   | ql[128], qh[64], scales: int8[16], d                | (d*sc) * (q - 32), q 6-bit       |
///
/// Bit placement, with element index e = 128*h + 32*k + j (h < 2, k < 4, j < 32):
/// - 2-bit quants (Q2_K, Q3_K low bits): bits 2k..2k+1 of qs[32h + j]; Q3_K's high bit: bit (e/32) of hmask[j].
/// - 4-bit quants (Q4_K, Q5_K) in sub-block s = e/32: low nibble of qs[32*(s/2) + j] for even s, high for odd;
///   Q5_K's fifth bit: bit s of qh[j].
/// - Q6_K: low 4 bits: nibble (k/2) of ql[64h + 32*(k%2) + j]; high 2 bits: bits 2k..2k+1 of qh[32h + j].
/// - Q4_K/Q5_K scales (8 sub-blocks, 6 bits each): for i < 4, sc = s[i] & 63, m = s[i+4] & 63; for i >= 4,
///   sc = (s[i+4] & 15) | (s[i-4] >> 6) << 4, m = (s[i+4] >> 4) | (s[i] >> 6) << 4.
/// - Q3_K scales (16 sub-blocks of 16): low 4 bits from nibble (i/8) of s[i%8], high 2 bits from bits
///   2*(i/4)..+1 of s[8 + i%4].
///
/// Arithmetic is fp32 in the order written above (no fused multiply-add), matching ggml and gguf-py bit for bit.
enum KQuants {
    @inline(__always)
    static func f16(_ p: UnsafePointer<UInt8>, _ offset: Int) -> Float {
        LegacyQuants.f16(p, offset)
    }

    /// The 6-bit scale and min of sub-block `i` (0..<8) of a Q4_K/Q5_K block.
    @inline(__always)
    static func scaleMin(_ s: UnsafePointer<UInt8>, _ i: Int) -> (Float, Float) {
        if i < 4 {
            return (Float(s[i] & 63), Float(s[i + 4] & 63))
        }
        let sc = (s[i + 4] & 0x0F) | ((s[i - 4] >> 6) << 4)
        let m = (s[i + 4] >> 4) | ((s[i] >> 6) << 4)
        return (Float(sc), Float(m))
    }

    static func decodeQ2_K(_ src: UnsafePointer<UInt8>, blocks: Int, into dst: UnsafeMutablePointer<Float>) {
        for b in 0 ..< blocks {
            let blk = src + b * 84
            let out = dst + b * 256
            let scales = blk, qs = blk + 16
            let d = f16(blk, 80), dmin = f16(blk, 82)
            for h in 0 ..< 2 {
                for k in 0 ..< 4 {
                    let shift = UInt8(2 * k)
                    for half in 0 ..< 2 {
                        let sub = 8 * h + 2 * k + half          // (128h + 32k + 16half) / 16
                        let dl = d * Float(scales[sub] & 0x0F)
                        let ml = dmin * Float(scales[sub] >> 4)
                        let base = 128 * h + 32 * k + 16 * half
                        for j in 0 ..< 16 {
                            let q = (qs[32 * h + 16 * half + j] >> shift) & 3
                            out[base + j] = dl * Float(q) - ml
                        }
                    }
                }
            }
        }
    }

    static func decodeQ3_K(_ src: UnsafePointer<UInt8>, blocks: Int, into dst: UnsafeMutablePointer<Float>) {
        for b in 0 ..< blocks {
            let blk = src + b * 110
            let out = dst + b * 256
            let hmask = blk, qs = blk + 32, s = blk + 96
            let d = f16(blk, 108)
            var dl = (Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0),
                      Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0), Float(0))
            withUnsafeMutableBytes(of: &dl) { raw in
                let p = raw.baseAddress!.assumingMemoryBound(to: Float.self)
                for i in 0 ..< 16 {
                    let lo = (s[i % 8] >> UInt8(4 * (i / 8))) & 0x0F
                    let hi = (s[8 + i % 4] >> UInt8(2 * (i / 4))) & 3
                    p[i] = d * Float(Int32(lo | hi << 4) - 32)
                }
            }
            withUnsafeBytes(of: &dl) { raw in
                let scale = raw.baseAddress!.assumingMemoryBound(to: Float.self)
                for h in 0 ..< 2 {
                    for k in 0 ..< 4 {
                        let shift = UInt8(2 * k)
                        let hbit = UInt8(4 * h + k)
                        for j in 0 ..< 32 {
                            let e = 128 * h + 32 * k + j
                            let low = Int32((qs[32 * h + j] >> shift) & 3)
                            let high = Int32((hmask[j] >> hbit) & 1)
                            out[e] = scale[e >> 4] * Float(low - 4 + 4 * high)
                        }
                    }
                }
            }
        }
    }

    static func decodeQ4_K(_ src: UnsafePointer<UInt8>, blocks: Int, into dst: UnsafeMutablePointer<Float>) {
        for b in 0 ..< blocks {
            let blk = src + b * 144
            let out = dst + b * 256
            let d = f16(blk, 0), dmin = f16(blk, 2)
            let scales = blk + 4, qs = blk + 16
            for pair in 0 ..< 4 {
                let (sc0, m0) = scaleMin(scales, 2 * pair)
                let (sc1, m1) = scaleMin(scales, 2 * pair + 1)
                let d0 = d * sc0, dm0 = dmin * m0
                let d1 = d * sc1, dm1 = dmin * m1
                let q = qs + 32 * pair
                let o = out + 64 * pair
                for j in 0 ..< 32 {
                    o[j] = d0 * Float(q[j] & 0x0F) - dm0
                    o[j + 32] = d1 * Float(q[j] >> 4) - dm1
                }
            }
        }
    }

    static func decodeQ5_K(_ src: UnsafePointer<UInt8>, blocks: Int, into dst: UnsafeMutablePointer<Float>) {
        for b in 0 ..< blocks {
            let blk = src + b * 176
            let out = dst + b * 256
            let d = f16(blk, 0), dmin = f16(blk, 2)
            let scales = blk + 4, qh = blk + 16, qs = blk + 48
            for pair in 0 ..< 4 {
                let (sc0, m0) = scaleMin(scales, 2 * pair)
                let (sc1, m1) = scaleMin(scales, 2 * pair + 1)
                let d0 = d * sc0, dm0 = dmin * m0
                let d1 = d * sc1, dm1 = dmin * m1
                let q = qs + 32 * pair
                let o = out + 64 * pair
                let shift0 = UInt8(2 * pair), shift1 = UInt8(2 * pair + 1)
                for j in 0 ..< 32 {
                    let lo = (q[j] & 0x0F) | ((qh[j] >> shift0) & 1) << 4
                    let hi = (q[j] >> 4) | ((qh[j] >> shift1) & 1) << 4
                    o[j] = d0 * Float(lo) - dm0
                    o[j + 32] = d1 * Float(hi) - dm1
                }
            }
        }
    }

    static func decodeQ6_K(_ src: UnsafePointer<UInt8>, blocks: Int, into dst: UnsafeMutablePointer<Float>) {
        for b in 0 ..< blocks {
            let blk = src + b * 210
            let out = dst + b * 256
            let d = f16(blk, 208)
            let scales = UnsafeRawPointer(blk + 192).assumingMemoryBound(to: Int8.self)
            for h in 0 ..< 2 {
                let ql = blk + 64 * h, qh = blk + 128 + 32 * h
                let o = out + 128 * h
                let sc = scales + 8 * h
                for half in 0 ..< 2 {
                    // Sub-blocks of 16: element 32k + 16half + j uses scale 2k + half.
                    let d0 = d * Float(sc[half]), d1 = d * Float(sc[2 + half])
                    let d2 = d * Float(sc[4 + half]), d3 = d * Float(sc[6 + half])
                    for jj in 0 ..< 16 {
                        let j = 16 * half + jj
                        let l0 = ql[j], l1 = ql[j + 32], hb = qh[j]
                        let q0 = Int32((l0 & 0x0F) | (hb & 3) << 4) - 32
                        let q1 = Int32((l1 & 0x0F) | ((hb >> 2) & 3) << 4) - 32
                        let q2 = Int32((l0 >> 4) | ((hb >> 4) & 3) << 4) - 32
                        let q3 = Int32((l1 >> 4) | ((hb >> 6) & 3) << 4) - 32
                        o[j] = d0 * Float(q0)
                        o[j + 32] = d1 * Float(q1)
                        o[j + 64] = d2 * Float(q2)
                        o[j + 96] = d3 * Float(q3)
                    }
                }
            }
        }
    }
}
