import Numerics
import Transformer
import XCTest

/// The forward pass on tiny random models: against a naive reference, and its own consistency across cache use
/// and batching.
final class SyntheticModelTests: XCTestCase {
    func maxDifference(_ a: ArraySlice<Float>, _ b: ArraySlice<Float>) -> Float {
        zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
    }

    func assertMatchesReference(_ c: TransformerConfig, line: UInt = #line) throws {
        let w = Synthetic.weights(c)
        let model = try TransformerModel(config: c, weights: w)
        let tokens = [3, 17, 60, 0, 42, 42, 9, 31, 5]
        let cache = model.makeCache(slots: 1, capacity: 16)
        let logits = try model.forward(tokens: [tokens], slots: [0], cache: cache, allPositions: true)
        let reference = Synthetic.referenceLogits(c, w, tokens: tokens)
        XCTAssertEqual(logits.rows, tokens.count, line: line)
        for p in 0 ..< tokens.count {
            let worst = zip(logits[p], reference[p]).map { abs(Double($0) - $1) }.max()!
            XCTAssertLessThan(worst, 1e-4, "position \(p)", line: line)
        }
    }

    func testLlamaGQAMatchesReference() throws {
        try assertMatchesReference(Synthetic.config(heads: 4, kvHeads: 2))
        try assertMatchesReference(Synthetic.config(heads: 4, kvHeads: 1))
    }

    func testMultiHeadMatchesReference() throws {
        try assertMatchesReference(Synthetic.config(heads: 4, kvHeads: 4))
    }

    func testQwen2BiasesAndUntiedHeadMatchReference() throws {
        try assertMatchesReference(Synthetic.config(architecture: .qwen2, heads: 4, kvHeads: 2, tied: false, bias: true))
    }

    /// GQA equals multi-head attention whose k/v heads are the shared ones repeated per query head.
    func testGQAEqualsRepeatedKVHeads() throws {
        let gqa = Synthetic.config(heads: 4, kvHeads: 2)
        let mha = Synthetic.config(heads: 4, kvHeads: 4)
        let w = Synthetic.weights(gqa)
        var repeated = w
        let d = gqa.headDim, hidden = gqa.hiddenSize
        for l in 0 ..< gqa.layerCount {
            for t: TensorName.LayerTensor in [.kWeight, .vWeight] {
                let src = w.tensors[.layer(l, t)]!
                var dst: [Float] = []
                for h in 0 ..< 4 {
                    let g = h / 2
                    dst += src[g * d * hidden ..< (g + 1) * d * hidden]
                }
                repeated.tensors[.layer(l, t)] = dst
            }
        }
        let a = try TransformerModel(config: gqa, weights: w)
        let b = try TransformerModel(config: mha, weights: repeated)
        let tokens = [[1, 2, 3, 4, 5, 6, 7]]
        let la = try a.forward(tokens: tokens, slots: [0], cache: a.makeCache(slots: 1, capacity: 8), allPositions: true)
        let lb = try b.forward(tokens: tokens, slots: [0], cache: b.makeCache(slots: 1, capacity: 8), allPositions: true)
        XCTAssertLessThan(maxDifference(la.values[...], lb.values[...]), 1e-5)
    }

    func testIncrementalDecodeEqualsFullRecompute() throws {
        let c = Synthetic.config(architecture: .qwen2, bias: true)
        let model = try TransformerModel(config: c, weights: Synthetic.weights(c))
        let tokens = [5, 9, 13, 2, 40, 41, 7, 7, 0, 33, 12]
        let full = try model.forward(tokens: [tokens], slots: [0], cache: model.makeCache(slots: 1, capacity: 16),
                                     allPositions: true)
        // Prefill 4, then chunks of 1, 2, 1, 3.
        let cache = model.makeCache(slots: 2, capacity: 16)
        var position = 0
        for chunk in [4, 1, 2, 1, 3] {
            let part = Array(tokens[position ..< position + chunk])
            let logits = try model.forward(tokens: [part], slots: [1], cache: cache, allPositions: true)
            for i in 0 ..< chunk {
                XCTAssertLessThan(maxDifference(logits[i], full[position + i]), 1e-5, "position \(position + i)")
            }
            position += chunk
            XCTAssertEqual(cache.lengths, [0, position])
            // Without allPositions only the last row comes back.
            XCTAssertEqual(try model.forward(tokens: [[tokens[0]]], slots: [0], cache: model.makeCache(slots: 1, capacity: 2),
                                             allPositions: false).rows, 1)
        }
    }

    /// Sequences longer than the attention's causal blocks (`Attention.causalBlockRows` query rows): the same tokens
    /// as a prefix and segments after it (the GEMM path with cached keys before the first query row, blocks cut at
    /// other rows of the segment) and as decode steps (the per-row path) give the whole prefill's logits.
    func testLongPrefillInCausalBlocksEqualsSegmentsAndDecode() throws {
        var c = Synthetic.config(heads: 4, kvHeads: 2)
        c.contextLength = 256
        let model = try TransformerModel(config: c, weights: Synthetic.weights(c))
        let tokens = (0 ..< 160).map { ($0 * 37 + 11) % c.vocabularySize }
        let full = try model.forward(tokens: [tokens], slots: [0], cache: model.makeCache(slots: 1, capacity: 160),
                                     allPositions: true)
        let cache = model.makeCache(slots: 1, capacity: 160)
        var position = 0
        for chunk in [70, 10, 64, 11, 1, 1, 1, 1, 1] {
            let part = Array(tokens[position ..< position + chunk])
            let logits = try model.forward(tokens: [part], slots: [0], cache: cache, allPositions: true)
            for i in 0 ..< chunk {
                XCTAssertLessThan(maxDifference(logits[i], full[position + i]), 1e-4, "position \(position + i)")
            }
            position += chunk
        }
    }

    func testMixedLengthBatchEqualsEachSequenceAlone() throws {
        let c = Synthetic.config(heads: 4, kvHeads: 2)
        let model = try TransformerModel(config: c, weights: Synthetic.weights(c))
        // Slot 2 already holds a prefix; the batch appends sequences of lengths 10, 9 and 3 in slot order 3, 2, 0
        // (long ones take the GEMM attention path, short ones the per-row path), then one of 1 to slot 1.
        let prefix = [11, 12, 13, 14]
        let batch: [[Int]] = [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [6, 7, 8, 9, 10, 11, 12, 13, 14], [7, 8, 9]]
        let slots = [3, 2, 0]
        let cache = model.makeCache(slots: 4, capacity: 16)
        _ = try model.forward(tokens: [prefix], slots: [2], cache: cache, allPositions: false)
        let together = try model.forward(tokens: batch, slots: slots, cache: cache, allPositions: true)
        let lasts = try model.forward(tokens: [[20], [21], [22]], slots: slots, cache: cache, allPositions: false)
        XCTAssertEqual(together.rows, 22)
        XCTAssertEqual(lasts.rows, 3)
        XCTAssertEqual(cache.lengths, [4, 0, 14, 11])
        var row = 0
        for (i, seq) in batch.enumerated() {
            let alone = model.makeCache(slots: 1, capacity: 16)
            let history = slots[i] == 2 ? prefix : []
            if !history.isEmpty { _ = try model.forward(tokens: [history], slots: [0], cache: alone, allPositions: false) }
            let logits = try model.forward(tokens: [seq], slots: [0], cache: alone, allPositions: true)
            for j in 0 ..< seq.count {
                XCTAssertLessThan(maxDifference(together[row], logits[j]), 1e-5, "sequence \(i) token \(j)")
                row += 1
            }
            let next = try model.forward(tokens: [[20 + i]], slots: [0], cache: alone, allPositions: false)
            XCTAssertLessThan(maxDifference(lasts[i], next[0]), 1e-5, "decode step of sequence \(i)")
        }
    }

    /// An fp16 cache (prefill through the GEMM path, then decode steps through the per-row kernels) gives the fp32
    /// cache's logits to fp16 precision — close, and not identical (the rounding happens).
    func testFP16CacheMatchesFP32CacheToHalfPrecision() throws {
        let c = Synthetic.config(heads: 4, kvHeads: 2)
        let model = try TransformerModel(config: c, weights: Synthetic.weights(c))
        let prompts: [[Int]] = [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [6, 7, 8]]
        func run(_ storage: KVCache.Storage) throws -> [Float] {
            let cache = model.makeCache(slots: 2, capacity: 16, storage: storage)
            XCTAssertEqual(cache.storage, storage)
            var all = try model.forward(tokens: prompts, slots: [0, 1], cache: cache, allPositions: true).values
            for step in 0 ..< 3 {
                all += try model.forward(tokens: [[20 + step], [30 + step]], slots: [0, 1], cache: cache,
                                         allPositions: false).values
            }
            return all
        }
        let fp32 = try run(.fp32), fp16 = try run(.fp16)
        let mean = fp32.reduce(0, +) / Float(fp32.count)
        let std = (fp32.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(fp32.count)).squareRoot()
        let worst = maxDifference(fp32[...], fp16[...])
        XCTAssertGreaterThan(worst, 0, "the fp16 cache rounds keys and values")
        XCTAssertLessThan(worst, 0.005 * std)
        XCTAssertEqual(model.makeCache(slots: 1, capacity: 4).storage, .fp32, "fp32 weights take an fp32 cache")
        let half = model.makeCache(slots: 1, capacity: 4, storage: .fp16)
        XCTAssertEqual(2 * half.bytesPerPosition, model.makeCache(slots: 1, capacity: 4).bytesPerPosition)
    }

    /// store, read and copy of both formats: an fp16 cache holds each value rounded to the nearest half (ties to
    /// even), saturating at ±65504.
    func testCacheStoresReadsAndCopiesBothFormats() {
        for storage in [KVCache.Storage.fp32, .fp16] {
            let cache = KVCache(layers: 2, slots: 3, capacity: 4, kvHeads: 2, headDim: 3, storage: storage)
            let key: [Float] = [1 + 1 / 2048, -2.5, 3.1, 0.1, 1e-3, -7e4], value = key.map { $0 / 8 }
            cache.store(layer: 1, slot: 2, position: 1, key: key, value: value)
            cache.lengths[2] = 2
            cache.copy(slot: 2, to: 0)
            XCTAssertEqual(cache.lengths[0], 2)
            for slot in [2, 0] {
                for head in 0 ..< 2 {
                    var k = [Float](repeating: .nan, count: 6), v = k
                    cache.read(layer: 1, slot: slot, head: head, count: 2, keys: &k, values: &v)
                    func stored(_ x: Float) -> Float { storage == .fp32 ? x : Float(Float16(max(-65504, min(65504, x)))) }
                    let expectedKey = key[3 * head ..< 3 * head + 3].map(stored)
                    let expectedValue = value[3 * head ..< 3 * head + 3].map(stored)
                    XCTAssertEqual(Array(k[3...]), expectedKey, "\(storage) slot \(slot) head \(head)")
                    XCTAssertEqual(Array(v[3...]), expectedValue, "\(storage) slot \(slot) head \(head)")
                    XCTAssertEqual(Array(k[..<3]), [0, 0, 0], "position 0 untouched")
                }
            }
        }
    }

    func testBatchedDecodeOfSixteenEqualsSingles() throws {
        let c = Synthetic.config(architecture: .qwen2, bias: true)
        let model = try TransformerModel(config: c, weights: Synthetic.weights(c))
        let cache = model.makeCache(slots: 16, capacity: 8)
        let prompts = (0 ..< 16).map { s in (0 ... s % 5).map { ($0 * 7 + s) % 61 } }
        _ = try model.forward(tokens: prompts, slots: Array(0 ..< 16), cache: cache, allPositions: false)
        let step = try model.forward(tokens: (0 ..< 16).map { [$0 + 30] }, slots: Array(0 ..< 16), cache: cache,
                                     allPositions: false)
        for s in 0 ..< 16 {
            let alone = model.makeCache(slots: 1, capacity: 8)
            let l = try model.forward(tokens: [prompts[s] + [s + 30]], slots: [0], cache: alone, allPositions: false)
            XCTAssertLessThan(maxDifference(step[s], l[0]), 1e-5, "sequence \(s)")
        }
    }

    func testTiedAndUntiedHeads() throws {
        let tied = Synthetic.config(tied: true)
        let w = Synthetic.weights(tied)
        XCTAssertNil(w.tensors[.lmHead])
        let a = try TransformerModel(config: tied, weights: w)
        // Untied with the head equal to the embedding gives the same logits; with another head, different ones.
        let untied = Synthetic.config(tied: false)
        var same = w
        same.tensors[.lmHead] = w.tensors[.embedding]
        let b = try TransformerModel(config: untied, weights: same)
        var other = w
        other.tensors[.lmHead] = w.tensors[.embedding]!.map { -$0 }
        let cModel = try TransformerModel(config: untied, weights: other)
        let tokens = [[4, 8, 15, 16, 23, 42]]
        func run(_ m: TransformerModel) throws -> Logits {
            try m.forward(tokens: tokens, slots: [0], cache: m.makeCache(slots: 1, capacity: 8), allPositions: false)
        }
        let la = try run(a), lb = try run(b), lc = try run(cModel)
        XCTAssertEqual(la.values, lb.values)
        XCTAssertLessThan(maxDifference(la.values[...], lc.values.map { -$0 }[...]), 1e-5)
        XCTAssertGreaterThan(maxDifference(la.values[...], lc.values[...]), 0.1)
        // An untied model without a head is an error naming the tensor.
        XCTAssertThrowsError(try TransformerModel(config: untied, weights: w)) { error in
            XCTAssertTrue("\(error)".contains("lm_head.weight"), "\(error)")
        }
    }

    func testBadRequestsThrow() throws {
        let c = Synthetic.config()
        let model = try TransformerModel(config: c, weights: Synthetic.weights(c))
        let cache = model.makeCache(slots: 2, capacity: 4)
        func expectError(_ tokens: [[Int]], _ slots: [Int], _ fragment: String, line: UInt = #line) {
            XCTAssertThrowsError(try model.forward(tokens: tokens, slots: slots, cache: cache, allPositions: false),
                                 line: line) { error in
                XCTAssertTrue("\(error)".contains(fragment), "\(error)", line: line)
            }
        }
        expectError([[1]], [2], "outside the cache")
        expectError([[1], [2]], [0, 0], "twice")
        expectError([[61]], [0], "vocabulary")
        expectError([[-1]], [0], "vocabulary")
        expectError([[1, 2, 3, 4, 5]], [0], "capacity")
        expectError([[]], [0], "no tokens")
        expectError([[1]], [0, 1], "slots")
        XCTAssertEqual(cache.lengths, [0, 0], "failed calls leave the cache untouched")
        let otherCache = KVCache(layers: 3, slots: 1, capacity: 4, kvHeads: c.kvHeadCount, headDim: c.headDim)
        XCTAssertThrowsError(try model.forward(tokens: [[1]], slots: [0], cache: otherCache, allPositions: false))
        // The same width per position split into other heads would put each head's rows elsewhere.
        let otherHeads = KVCache(layers: c.layerCount, slots: 1, capacity: 4, kvHeads: c.kvHeadCount * 2,
                                 headDim: c.headDim / 2)
        XCTAssertEqual(otherHeads.kvDim, c.kvDim)
        XCTAssertThrowsError(try model.forward(tokens: [[1]], slots: [0], cache: otherHeads, allPositions: false)) {
            XCTAssertTrue("\($0)".contains("another model"), "\($0)")
        }
    }
}
