#!/usr/bin/env python3
"""Writes peft_gradient.json: PyTorch autograd through PEFT's TinyLoRA on SmolLM2-135M, given exactly our A, B, P, v.

Reference for PEFTGradientTests.swift. transformers loads the SmolLM2 GGUF (dequantized to fp32) and PEFT wraps all
seven projections of every layer with TinyLoRA (r=2, u=2, weight_tying=0.9: 21 groups of 10 modules). PEFT's own
SVD factors and projections are then REPLACED by ours (A, B, P per module, v per group), read from the safetensors
file that the Swift test writes when run with TINYLORA_WRITE_PEFT_FACTORS=PATH; the script checks PEFT's group of
every module equals ours. For a fixed batch (token ids of two texts; weights w_t per predicted token, mixed signs)
it computes L = Σ_sequences Σ_t w_t · log_softmax(logits_t)[token_{t+1}] (log-softmax in float64 of the fp32
logits) and dL/dv by autograd, and records them with the float64 sums of the A, B, P it used.

Usage (from this directory):
  TINYLORA_WRITE_PEFT_FACTORS=/tmp/smollm2-factors.safetensors swift test -c release --filter PEFTGradientTests
  /root/.cache/tinylora/venv-ref/bin/python make_peft_gradient.py /tmp/smollm2-factors.safetensors [MODELS_DIR]
Versions used: torch 2.13 (CPU), transformers 5.23.0, gguf 0.19.0, accelerate 1.15.0, peft 0.21.2.
"""
import json
import os
import sys

import peft
import torch
from peft import TinyLoraConfig, get_peft_model
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

MODEL = "SmolLM2-135M-Instruct.Q4_1.gguf"
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
TEXTS = [
    "Question: Tom has 3 apples and buys 5 more. How many apples does he have? Answer: 3 + 5 = 8. #### 8",
    "The river flows to the sea, and the sea returns as rain.",
]


def weights_for(index, n):
    """w_t for the n − 1 predictions of sequence `index`: a zero-weight prompt, then mixed signs."""
    if index == 0:
        return [0.0] * 10 + [1.0 if t % 3 else -0.5 for t in range(n - 1 - 10)]
    return [0.25 * ((t % 5) - 2) for t in range(n - 1)]


def main():
    torch.set_num_threads(2)
    factors_path = sys.argv[1]
    home = os.environ.get("TINYLORA_HOME", os.path.expanduser("~/.cache/tinylora"))
    models_dir = sys.argv[2] if len(sys.argv) > 2 else os.path.join(home, "models")
    ours = load_file(factors_path)
    u, r = int(ours["v"].shape[1]), 2

    tok = AutoTokenizer.from_pretrained(models_dir, gguf_file=MODEL)
    model = AutoModelForCausalLM.from_pretrained(models_dir, gguf_file=MODEL, dtype=torch.float32)
    peft_model = get_peft_model(model, TinyLoraConfig(r=r, u=u, target_modules=TARGETS, weight_tying=0.9))
    peft_model.eval()  # no dropout (TinyLoRA dropout is 0 anyway)

    sums = {"A": 0.0, "B": 0.0, "P": 0.0}
    wrapped = 0
    for name, module in peft_model.named_modules():
        keys = getattr(module, "_tinylora_v_key", None)
        if not (isinstance(keys, dict) and "default" in keys):
            continue
        layer, kind = name.split("layers.")[1].split(".")[0], name.split(".")[-1]
        key = f"{layer}.{kind}"
        assert int(keys["default"]) == int(ours[key + ".group"][0]), f"group of {key} differs from ours"
        for part, buffers in (("A", module.tinylora_A), ("B", module.tinylora_B), ("P", module.tinylora_P)):
            value = ours[f"{key}.{part}"].to(torch.float32)
            assert tuple(buffers["default"].shape) == tuple(value.shape), (key, part)
            buffers["default"] = value.clone()
            sums[part] += float(value.double().sum())
        wrapped += 1
    assert wrapped == 30 * 7, wrapped
    v_dict = peft_model.base_model.tinylora_v["default"]
    assert len(v_dict) == ours["v"].shape[0]
    with torch.no_grad():
        for g in range(ours["v"].shape[0]):
            v_dict[str(g)].copy_(ours["v"][g])
    trainable = [n for n, p in peft_model.named_parameters() if p.requires_grad]
    assert all("tinylora_v" in n for n in trainable), trainable

    tokens = [tok(t, add_special_tokens=False)["input_ids"] for t in TEXTS]
    weights = [weights_for(i, len(ids)) for i, ids in enumerate(tokens)]
    peft_model.zero_grad()
    total = torch.zeros((), dtype=torch.float64)
    for ids, w in zip(tokens, weights):
        logits = peft_model(torch.tensor([ids])).logits[0]  # [T, V] fp32
        logp = torch.log_softmax(logits.double(), dim=-1)
        targets = torch.tensor(ids[1:])
        picked = logp[:-1].gather(1, targets[:, None])[:, 0]
        total = total + (torch.tensor(w, dtype=torch.float64) * picked).sum()
    total.backward()
    gradient = []
    for g in range(ours["v"].shape[0]):
        gradient += [float(x) for x in v_dict[str(g)].grad]

    out = {
        "generator": f"peft {peft.__version__}, torch {torch.__version__}",
        "model": MODEL, "weight_tying": 0.9, "u": u, "r": r,
        "tokens": tokens, "weights": weights,
        "v": [float(x) for x in ours["v"].flatten()],
        "loss": float(total), "gradient": gradient,
        "sum_a": sums["A"], "sum_b": sums["B"], "sum_p": sums["P"],
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peft_gradient.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print("wrote", path, "loss", float(total), "|g|", sum(x * x for x in gradient) ** 0.5, file=sys.stderr)


if __name__ == "__main__":
    main()
