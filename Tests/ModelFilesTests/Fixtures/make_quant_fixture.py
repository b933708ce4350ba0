#!/usr/bin/env python3
"""Writes quant_fixture.json: golden GGUF block decodes/encodes from gguf-py (the llama.cpp Python package).

Run with the reference env (scripts/reference-env.sh):
    /root/.cache/tinylora/venv-ref/bin/python Tests/ModelFilesTests/Fixtures/make_quant_fixture.py

Inputs: the two real models in $TINYLORA_HOME/models (default ~/.cache/tinylora/models).

Contents:
- "decode": for every block type, raw block bytes (hex) and gguf.quants.dequantize's fp32 output (as uint32 bit
  patterns, so the Swift test can compare bit for bit). Types found in the real models use real blocks (the first
  few blocks of a named tensor plus a few at seeded random positions). Types absent from both models are made by
  quantizing real weights with gguf.quants.quantize (F16, BF16, Q4_0, Q5_1), or, where gguf-py has no quantizer
  (Q5_K, Q2_K, Q3_K), assembled from real Q4_K/Q6_K fp16 scales and seeded random bytes.
- "encode": fp32 inputs and the bytes gguf.quants.quantize writes for F16, BF16 and Q8_0.
- "full_tensors": for one real tensor per model, its element count, the float64 sum of its full gguf-py
  dequantization and a few sampled (index, value bits) pairs.
"""
import json
import os

import numpy as np
import gguf
from gguf import GGMLQuantizationType as T
from gguf.quants import dequantize, quantize

HOME = os.environ.get("TINYLORA_HOME", os.path.expanduser("~/.cache/tinylora"))
SMOL = "SmolLM2-135M-Instruct.Q4_1.gguf"
QWEN = "Qwen2.5-Coder-0.5B-Instruct.gguf"
rng = np.random.RandomState(1234)


def load(model):
    r = gguf.GGUFReader(os.path.join(HOME, "models", model))
    return {t.name: t for t in r.tensors}


def raw_blocks(tensor):
    """The tensor's bytes as (n_blocks, type_size) uint8."""
    block, size = gguf.GGML_QUANT_SIZES[tensor.tensor_type]
    return np.frombuffer(tensor.data.tobytes(), dtype=np.uint8).reshape(-1, size)


def bits(values):
    return [int(v) for v in np.asarray(values, dtype=np.float32).reshape(-1).view(np.uint32)]


def decode_case(qtype, data, source, how):
    data = np.ascontiguousarray(data, dtype=np.uint8)
    values = dequantize(data.reshape(-1), qtype)
    return {"type": qtype.name, "how": how, "source": source, "count": int(values.size),
            "bytes_hex": data.tobytes().hex(), "values_bits": bits(values)}


def pick(blocks, n_first=3, n_random=3):
    idx = list(range(n_first)) + sorted(rng.choice(np.arange(n_first, len(blocks)), n_random, replace=False).tolist())
    return idx, blocks[idx]


def real_case(model, tensors, name, n_first=3, n_random=3):
    t = tensors[name]
    idx, sel = pick(raw_blocks(t), n_first, n_random)
    return decode_case(t.tensor_type, sel, f"{model}: {name} blocks {idx}", "real")


def real_weights(tensors, name, n):
    """n fp32 values from a real tensor, starting at a seeded random block."""
    t = tensors[name]
    values = dequantize(t.data, t.tensor_type).reshape(-1)
    start = int(rng.randint(0, (values.size - n) // 32)) * 32
    return values[start:start + n].astype(np.float32), f"{name} elements {start}..<{start + n}"


def main():
    smol, qwen = load(SMOL), load(QWEN)
    cases = [
        real_case(SMOL, smol, "blk.0.ffn_down.weight"),          # Q4_1
        real_case(SMOL, smol, "token_embd.weight"),              # Q8_0
        real_case(SMOL, smol, "blk.0.attn_norm.weight", 8, 8),   # F32 (block = 1 element)
        real_case(QWEN, qwen, "blk.11.ffn_down.weight"),         # Q4_K
        real_case(QWEN, qwen, "blk.0.ffn_gate.weight"),          # Q5_0
        real_case(QWEN, qwen, "blk.0.ffn_down.weight"),          # Q6_K
        real_case(QWEN, qwen, "blk.0.attn_v.weight"),            # Q8_0
        real_case(QWEN, qwen, "blk.0.attn_k.bias", 8, 8),        # F32
    ]
    for c in cases:
        assert c["how"] == "real"

    # Types absent from both models: quantize real weights with gguf-py.
    w, where = real_weights(qwen, "blk.3.attn_q.weight", 4 * 32)
    for qtype in (T.F16, T.BF16, T.Q4_0, T.Q5_1):
        q = quantize(w.reshape(4, 32), qtype)
        cases.append(decode_case(qtype, q.view(np.uint8), f"{QWEN}: {where}, quantized by gguf-py", "quantized"))
    # F16/BF16 special values: signed zeros, subnormals, infinities, a NaN, the largest finite values.
    specials_f16 = np.array([0x0000, 0x8000, 0x0001, 0x83FF, 0x7C00, 0xFC00, 0x7E00, 0x7BFF, 0xFBFF, 0x3C00],
                            dtype=np.uint16)
    cases.append(decode_case(T.F16, specials_f16.view(np.uint8), "special values", "synthetic"))
    specials_bf16 = np.array([0x0000, 0x8000, 0x0001, 0x807F, 0x7F80, 0xFF80, 0x7FC0, 0x7F7F, 0xFF7F, 0x3F80],
                             dtype=np.uint16)
    cases.append(decode_case(T.BF16, specials_bf16.view(np.uint8), "special values", "synthetic"))

    # No gguf-py quantizer: real fp16 scales from real K-quant blocks, seeded random quant bytes.
    q4k = raw_blocks(qwen["blk.11.ffn_down.weight"])
    q6k = raw_blocks(qwen["blk.0.ffn_down.weight"])
    idx, q4sel = pick(q4k, 2, 2)
    q5k = np.concatenate([q4sel[:, :16], rng.randint(0, 256, (4, 32)).astype(np.uint8), q4sel[:, 16:]], axis=1)
    cases.append(decode_case(T.Q5_K, q5k, f"{QWEN}: blk.11.ffn_down.weight Q4_K blocks {idx} "
                             "(d, dmin, scales, 4-bit quants) plus random high bits", "synthetic"))
    q2k = np.concatenate([rng.randint(0, 256, (4, 16 + 64)).astype(np.uint8), q4sel[:, :4]], axis=1)
    cases.append(decode_case(T.Q2_K, q2k, f"random scales and quants, d/dmin of Q4_K blocks {idx}", "synthetic"))
    idx6, q6sel = pick(q6k, 2, 2)
    q3k = np.concatenate([rng.randint(0, 256, (4, 32 + 64 + 12)).astype(np.uint8), q6sel[:, -2:]], axis=1)
    cases.append(decode_case(T.Q3_K, q3k, f"random masks, quants and scales, d of Q6_K blocks {idx6}", "synthetic"))

    # Encoders: F16, BF16 (special values included) and Q8_0 (an all-zero block included).
    w, where = real_weights(qwen, "blk.5.ffn_up.weight", 3 * 32)
    specials = np.array([0.0, -0.0, 1e-8, -1e-8, 6e-5, 65504.0, 65520.0, 70000.0, -1e30, np.inf, -np.inf, 3.0e38,
                         1.0 + 2.0 ** -8, 1.0 + 3 * 2.0 ** -8, 1.0 + 2.0 ** -11, 1.0 + 3 * 2.0 ** -11],
                        dtype=np.float32)
    enc_in = np.concatenate([w, specials])
    encode = [
        {"type": "F16", "source": f"{QWEN}: {where} + special values", "input_bits": bits(enc_in),
         "bytes_hex": quantize(enc_in, T.F16).view(np.uint8).tobytes().hex()},
        {"type": "BF16", "source": f"{QWEN}: {where} + special values", "input_bits": bits(enc_in),
         "bytes_hex": quantize(enc_in, T.BF16).view(np.uint8).tobytes().hex()},
    ]
    q8_in = np.concatenate([w, np.zeros(32, dtype=np.float32),
                            np.linspace(-2.5, 2.5, 32, dtype=np.float32)])  # exact .5 ties on the grid
    encode.append({"type": "Q8_0", "source": f"{QWEN}: {where} + a zero block + linspace(-2.5, 2.5)",
                   "input_bits": bits(q8_in),
                   "bytes_hex": quantize(q8_in.reshape(-1, 32), T.Q8_0).view(np.uint8).tobytes().hex()})

    full = []
    for model, tensors, name in ((SMOL, smol, "blk.0.ffn_down.weight"), (QWEN, qwen, "blk.0.ffn_down.weight"),
                                 (QWEN, qwen, "blk.11.ffn_down.weight"), (QWEN, qwen, "blk.0.ffn_gate.weight")):
        t = tensors[name]
        values = dequantize(t.data, t.tensor_type).reshape(-1).astype(np.float32)
        sample = sorted(rng.choice(values.size, 12, replace=False).tolist()) + [0, values.size - 1]
        full.append({"model": model, "tensor": name, "type": t.tensor_type.name, "count": int(values.size),
                     "sum": float(values.astype(np.float64).sum()),
                     "samples": [[int(i), int(values[i:i + 1].view(np.uint32)[0])] for i in sample]})

    out = {"generator": "make_quant_fixture.py with gguf-py " + getattr(gguf, "__version__", "0.19.0"),
           "decode": cases, "encode": encode, "full_tensors": full}
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "quant_fixture.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {path}: {len(cases)} decode cases, {len(encode)} encode cases, {len(full)} full tensors")


if __name__ == "__main__":
    main()
