"""Writes a control adapter: a trained native TinyLoRA file with v replaced by a random direction of the same norm.

The frozen factors and projections are rebuilt from the file's header when it is loaded, so the control differs from
the trained adapter only in the direction of v: scoring it tells how much a perturbation of that size moves greedy
GSM8K answers by itself (the null against which the trained row's gained/lost counts are read).

usage: python3 results/controls/random_direction.py TRAINED.tla SEED OUT.tla
       (SEED "negate": −v instead, the trained direction reversed)
Layout (Sources/Adapters/AdapterFile.swift): 168-byte header, N values (fp32 here), SHA-256 of all preceding bytes.
"""
import hashlib
import math
import random
import struct
import sys

trained, seed, out = sys.argv[1], sys.argv[2], sys.argv[3]
data = open(trained, "rb").read()
assert data[:8] == b"TLADAPTR", "not a native adapter file"
assert data[13] == 0, "only fp32 values are handled"
n = struct.unpack_from("<Q", data, 72)[0]
assert len(data) == 168 + 4 * n + 32, "unexpected file size"
assert hashlib.sha256(data[:-32]).digest() == data[-32:], "checksum mismatch"
v = struct.unpack_from(f"<{n}f", data, 168)
norm = math.sqrt(sum(x * x for x in v))
if seed == "negate":
    z = [-x for x in v]
else:
    rng = random.Random(int(seed))
    z = [rng.gauss(0.0, 1.0) for _ in range(n)]
zn = math.sqrt(sum(x * x for x in z))
w = [x / zn * norm for x in z]
body = data[:168] + struct.pack(f"<{n}f", *w)
open(out, "wb").write(body + hashlib.sha256(body).digest())
cos = sum(a * b for a, b in zip(v, w)) / (norm * norm)
print(f"{out}: {n} values, norm {norm:.6g} (as trained), cosine with the trained v {cos:+.3f}")
