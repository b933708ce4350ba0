import Numerics
import Transformer

/// A test failure with a message (thrown by the fakes, and for a missing model file).
struct FakeModelError: Error, CustomStringConvertible {
    let description: String
}

/// A fake `CausalLM` whose "KV cache" holds the token ids themselves (1 layer, kvDim 1, keys[position] = token), so
/// `KVCache.copy` carries a sequence's history like a real cache; the logits are any function of the whole history.
/// It records every forward call and throws if a slot would overflow the cache capacity.
final class HistoryModel: CausalLM {
    let vocabularySize: Int
    let contextLength: Int
    let logitsFor: ([Int]) -> [Float]
    private(set) var calls: [(tokens: [[Int]], slots: [Int])] = []

    init(vocabularySize: Int, contextLength: Int, logitsFor: @escaping ([Int]) -> [Float]) {
        self.vocabularySize = vocabularySize
        self.contextLength = contextLength
        self.logitsFor = logitsFor
    }

    func makeCache(slots: Int, capacity: Int) -> KVCache {
        KVCache(layers: 1, slots: slots, capacity: capacity, kvHeads: 1, headDim: 1)
    }

    func history(slot: Int, cache: KVCache) -> [Int] {
        let keys = cache.keys(layer: 0, slot: slot)
        return (0 ..< cache.lengths[slot]).map { Int(keys[$0]) }
    }

    func forward(tokens: [[Int]], slots: [Int], cache: KVCache, allPositions: Bool) throws -> Logits {
        calls.append((tokens, slots))
        guard tokens.count == slots.count, Set(slots).count == slots.count else {
            throw FakeModelError(description: "bad batch: \(tokens.count) sequences, slots \(slots)")
        }
        var values: [Float] = []
        var rows = 0
        for (sequence, slot) in zip(tokens, slots) {
            guard !sequence.isEmpty, cache.lengths[slot] + sequence.count <= cache.capacity,
                  cache.lengths[slot] + sequence.count <= contextLength else {
                throw FakeModelError(description: "slot \(slot) overflow: \(cache.lengths[slot]) + \(sequence.count) > \(cache.capacity)")
            }
            for token in sequence {
                guard token >= 0 && token < vocabularySize else { throw FakeModelError(description: "token \(token)") }
                cache.keys(layer: 0, slot: slot)[cache.lengths[slot]] = Float(token)
                cache.lengths[slot] += 1
                if allPositions {
                    values += logitsFor(history(slot: slot, cache: cache))
                    rows += 1
                }
            }
            if !allPositions {
                values += logitsFor(history(slot: slot, cache: cache))
                rows += 1
            }
        }
        return Logits(values: values, rows: rows, vocabularySize: vocabularySize)
    }

    /// Sum over calls of the tokens sent.
    var tokensSent: Int { calls.reduce(0) { $0 + $1.tokens.reduce(0) { $0 + $1.count } } }
}

extension HistoryModel {
    /// Deterministic bigram chain: the next token after t is (3t + 1) mod vocabularySize, with logit 5 (others 0).
    static func bigram(vocabularySize: Int = 32, contextLength: Int = 64) -> HistoryModel {
        HistoryModel(vocabularySize: vocabularySize, contextLength: contextLength) { history in
            var logits = [Float](repeating: 0, count: vocabularySize)
            logits[(3 * history.last! + 1) % vocabularySize] = 5
            return logits
        }
    }

    /// Logits in [0, 4) that are a hash of the whole history (every token and its position), so any mix-up of
    /// sequences, slots or positions changes them.
    static func hashed(vocabularySize: Int = 50, contextLength: Int = 256) -> HistoryModel {
        HistoryModel(vocabularySize: vocabularySize, contextLength: contextLength) { history in
            var h: UInt64 = 0x1234_5678
            for (position, token) in history.enumerated() {
                h = SplitMix64.mix(h ^ UInt64(token) &+ UInt64(position) &* 0x100_0000_01B3)
            }
            return (0 ..< vocabularySize).map { v in
                Float(SplitMix64.mix(h ^ UInt64(v) &* 0x9E37_79B9_7F4A_7C15) >> 40) * 0x1.0p-24 * 4
            }
        }
    }
}

/// A decoder for tests: token t is the letter at t mod 26 ("a"...), except the overrides.
func letterDecoder(overrides: [Int: String] = [:]) -> ([Int]) -> String {
    { ids in
        ids.map { overrides[$0] ?? String(UnicodeScalar(UInt8(97 + $0 % 26))) }.joined()
    }
}
