"""Writes random_reference.json: expected outputs of SplitMix64 and xoshiro256** (with the project's seeding,
stream derivation, uniform, bounded and Box-Muller conversions), computed by this independent Python
implementation of the published algorithms:
  SplitMix64: https://prng.di.unimi.it/splitmix64.c
  xoshiro256** 1.0: https://prng.di.unimi.it/xoshiro256starstar.c
Unsigned 64-bit values are written as decimal strings and doubles as their IEEE-754 bit patterns (hex strings)
so that no JSON parser rounds them.

Run: /root/.cache/tinylora/venv-ref/bin/python make_random_reference.py  (pure standard library)
"""
import json
import math
import os
import struct

MASK = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15


def mix(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


class SplitMix64:
    def __init__(self, seed):
        self.state = seed & MASK

    def next(self):
        self.state = (self.state + GOLDEN) & MASK
        return mix(self.state)


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK


class Xoshiro:
    def __init__(self, seed=None, state=None):
        if state is None:
            sm = SplitMix64(seed)
            state = [sm.next() for _ in range(4)]
        self.s = list(state)

    def next(self):
        s = self.s
        result = (rotl((s[1] * 5) & MASK, 7) * 9) & MASK
        t = (s[1] << 17) & MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return result

    def next_double(self):
        return (self.next() >> 11) * 2.0 ** -53

    def next_float(self):
        return (self.next() >> 40) * 2.0 ** -24

    def below(self, n):
        m = self.next() * n
        low = m & MASK
        if low < n:
            threshold = ((1 << 64) - n) % n
            while low < threshold:
                m = self.next() * n
                low = m & MASK
        return m >> 64

    def normal_pair(self):
        u1 = 1.0 - self.next_double()
        u2 = self.next_double()
        r = math.sqrt(-2.0 * math.log(u1))
        theta = 2.0 * math.pi * u2
        return r * math.cos(theta), r * math.sin(theta)


def stream_seed(seed, stream):
    return mix(seed ^ mix((stream + GOLDEN) & MASK))


def bits(x):
    return "%016x" % struct.unpack("<Q", struct.pack("<d", x))[0]


out = {}
sm = SplitMix64(1234567)
out["splitmix_seed"] = "1234567"
out["splitmix_outputs"] = [str(sm.next()) for _ in range(5)]

g = Xoshiro(seed=42)
out["xoshiro_seed"] = "42"
out["xoshiro_state"] = [str(v) for v in g.s]
out["xoshiro_outputs"] = [str(g.next()) for _ in range(8)]

out["stream_seed_base"] = "7"
out["stream_seeds"] = [str(stream_seed(7, i)) for i in range(4)]
nested = stream_seed(stream_seed(7, 2), 5)
out["nested_stream_seed_2_5"] = str(nested)
g = Xoshiro(seed=nested)
out["nested_stream_outputs"] = [str(g.next()) for _ in range(3)]

g = Xoshiro(seed=2024)
out["doubles_seed"] = "2024"
out["doubles_bits"] = [bits(g.next_double()) for _ in range(5)]
g = Xoshiro(seed=2024)
out["floats_as_double_bits"] = [bits(g.next_float()) for _ in range(5)]

g = Xoshiro(seed=5)
out["below_seed"] = "5"
out["below_10"] = [str(g.below(10)) for _ in range(20)]
big = (1 << 63) + 1  # about half of all draws are rejected for this bound
out["below_big_bound"] = str(big)
out["below_big"] = [str(g.below(big)) for _ in range(10)]

g = Xoshiro(seed=99)
out["normal_seed"] = "99"
pairs = [g.normal_pair() for _ in range(4)]
out["normal_pairs_bits"] = [[bits(a), bits(b)] for a, b in pairs]

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "random_reference.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print("wrote", path)
