#!/usr/bin/env python3
"""Writes results/gsm8k-test-subset-400-seed-2026.txt: the ids of the GSM8K test items that
`tinylora eval --data gsm8k-test:subset=400,seed=2026` scores (issue 6's evaluation subset).

An independent re-implementation (Python integers, no Swift) of the selection in Sources/Tasks/DatasetSubset.swift:
xoshiro256** seeded through SplitMix64 with the project's stream seeding, a partial Fisher-Yates shuffle of the
indices 0..1318 with Lemire's unbiased next(below:), the first 400 kept in file order. The choice depends only on
the seed and the number of items: it was fixed before any model was trained or evaluated on GSM8K.
Run: python3 results/make_gsm8k_subset.py [path to gsm8k-test.requests.jsonl.gz]
(default: $TINYLORA_HOME/data or ~/.cache/tinylora/data, where `tinylora fetch gsm8k-test` puts it).
"""
import gzip, json, os, sys

M = (1 << 64) - 1

def mix(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
    return z ^ (z >> 31)

class Xoshiro:
    def __init__(self, seed, stream):
        state = mix(seed ^ mix((stream + 0x9E3779B97F4A7C15) & M))
        self.s = []
        for _ in range(4):
            state = (state + 0x9E3779B97F4A7C15) & M
            self.s.append(mix(state))

    def next(self):
        s0, s1, s2, s3 = self.s
        rotl = lambda x, k: ((x << k) | (x >> (64 - k))) & M
        result = (rotl((s1 * 5) & M, 7) * 9) & M
        t = (s1 << 17) & M
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3; s2 ^= t
        s3 = rotl(s3, 45)
        self.s = [s0, s1, s2, s3]
        return result

    def below(self, bound):
        product = self.next() * bound
        if product & M < bound:
            threshold = (-bound) % bound
            while product & M < threshold:
                product = self.next() * bound
        return product >> 64

def subset(count, size, seed):
    order = list(range(count))
    rng = Xoshiro(seed, 0)
    for i in range(size):
        j = i + rng.below(count - i)
        order[i], order[j] = order[j], order[i]
    return sorted(order[:size])

def main():
    home = os.environ.get("TINYLORA_HOME", os.path.expanduser("~/.cache/tinylora"))
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(home, "data", "gsm8k-test.requests.jsonl.gz")
    with gzip.open(path, "rt", encoding="utf-8") as f:
        ids = [json.loads(line)["doc"]["id"] for line in f if line.strip()]
    assert len(ids) == 1319, len(ids)
    chosen = subset(len(ids), 400, 2026)
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gsm8k-test-subset-400-seed-2026.txt")
    with open(out + ".tmp", "w") as f:
        f.write("# GSM8K test items of gsm8k-test:subset=400,seed=2026 (written by results/make_gsm8k_subset.py)\n")
        for i in chosen:
            f.write(f"gsm8k-test-{ids[i]}\n")
    os.replace(out + ".tmp", out)
    print(f"wrote {out}: {len(chosen)} ids, first {chosen[:5]}")

if __name__ == "__main__":
    main()
