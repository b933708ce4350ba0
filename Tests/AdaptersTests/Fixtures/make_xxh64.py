"""Writes xxh64.json: XXH64 digests (the reference `xxhash` package, pip `xxhash==4.1.0`) of test byte strings.

Input i of length n is bytes((j * 31 + 7 + i) % 256 for j in range(n)); each is hashed with seeds 0 and 12345.
Run: python make_xxh64.py  (from this directory)
"""
import json

import xxhash

lengths = [0, 1, 3, 4, 5, 7, 8, 9, 15, 16, 31, 32, 33, 63, 64, 65, 100, 1000, 4099]
cases = []
for i, n in enumerate(lengths):
    data = bytes((j * 31 + 7 + i) % 256 for j in range(n))
    for seed in (0, 12345):
        cases.append({"index": i, "length": n, "seed": seed, "digest": xxhash.xxh64_hexdigest(data, seed=seed)})
with open("xxh64.json", "w") as f:
    json.dump({"generator": "xxhash " + xxhash.VERSION, "cases": cases}, f, indent=1)
