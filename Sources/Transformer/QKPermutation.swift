/// The row order llama.cpp's converter gives the Q and K projections of llama-architecture GGUF files.
///
/// Hugging Face Llama applies RoPE by "rotate half": within each head of `d` rows, row `i` pairs with row
/// `i + d/2`. llama.cpp rotates adjacent pairs instead, so its converter reorders each head's rows:
/// GGUF row `2i + j` of a head holds HF row `j·d/2 + i` (`i < d/2`, `j ∈ {0, 1}`). Rows are `rowLength` floats
/// (the input width for a weight, 1 for a bias). `heads` is the head count of that projection (kv heads for K).
public enum QKPermutation {
    /// HF order → GGUF order.
    public static func permute(_ x: [Float], heads: Int, rowLength: Int) -> [Float] {
        reorder(x, heads: heads, rowLength: rowLength, toGGUF: true)
    }

    /// GGUF order → HF order.
    public static func unpermute(_ x: [Float], heads: Int, rowLength: Int) -> [Float] {
        reorder(x, heads: heads, rowLength: rowLength, toGGUF: false)
    }

    /// For each HF row `o` of a projection with `rows` rows, the GGUF row holding it (so decoding GGUF rows in
    /// this order gives the HF order without moving the stored data).
    public static func ggufRows(heads: Int, rows: Int) -> [Int] {
        precondition(heads > 0 && rows % (2 * heads) == 0, "Q/K permutation: bad shape")
        let d = rows / heads, half = d / 2
        return (0 ..< rows).map { hfRow in
            let h = hfRow / d, j = (hfRow % d) / half, i = hfRow % half
            return h * d + 2 * i + j
        }
    }

    static func reorder(_ x: [Float], heads: Int, rowLength: Int, toGGUF: Bool) -> [Float] {
        let rows = x.count / rowLength
        precondition(rows * rowLength == x.count && rows % (2 * heads) == 0, "Q/K permutation: bad shape")
        let d = rows / heads, half = d / 2
        var out = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for h in 0 ..< heads {
                    for i in 0 ..< half {
                        for j in 0 ..< 2 {
                            let hfRow = h * d + j * half + i
                            let ggufRow = h * d + 2 * i + j
                            let (from, to) = toGGUF ? (hfRow, ggufRow) : (ggufRow, hfRow)
                            for c in 0 ..< rowLength { dst[to * rowLength + c] = src[from * rowLength + c] }
                        }
                    }
                }
            }
        }
        return out
    }
}
