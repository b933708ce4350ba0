#!/usr/bin/env python3
"""Writes peft_export_logits.json: PEFT's logits with the TinyLoRA adapter our Swift code exported, on SmolLM2-135M.

Reference for ExportPEFTTinyLoRATests.swift. transformers loads the SmolLM2 GGUF (dequantized to fp32); peft's
PeftModel.from_pretrained loads the exported directory (adapter_config.json + adapter_model.safetensors, written by
the Swift test when run with TINYLORA_WRITE_PEFT_EXPORT=DIR) with no change by us. For a fixed token sequence it
records, at a few positions, the top-k token ids of the adapted logits with their adapted and base (adapter
disabled) fp32 logits, plus the trained v PEFT loaded (to tie the fixture to the test's adapter).

Usage (from this directory):
  TINYLORA_WRITE_PEFT_EXPORT=/tmp/smollm2-peft-tinylora swift test -c release --filter ExportPEFTTinyLoRATests
  /root/.cache/tinylora/venv-ref/bin/python make_peft_export_logits.py /tmp/smollm2-peft-tinylora [MODELS_DIR]
Versions used: torch 2.13 (CPU), transformers 5.23.0, gguf 0.19.0, peft 0.21.2.
"""
import json
import os
import sys

import peft
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

MODEL = "SmolLM2-135M-Instruct.Q4_1.gguf"
TEXT = "Question: Tom has 3 apples and buys 5 more. How many apples does he have? Answer:"
TOP_K = 8


def main():
    torch.set_num_threads(2)
    adapter_dir = sys.argv[1]
    home = os.environ.get("TINYLORA_HOME", os.path.expanduser("~/.cache/tinylora"))
    models_dir = sys.argv[2] if len(sys.argv) > 2 else os.path.join(home, "models")

    tok = AutoTokenizer.from_pretrained(models_dir, gguf_file=MODEL)
    model = AutoModelForCausalLM.from_pretrained(models_dir, gguf_file=MODEL, dtype=torch.float32)
    peft_model = PeftModel.from_pretrained(model, adapter_dir)
    peft_model.eval()
    config = peft_model.peft_config["default"]
    assert config.peft_type == "TINYLORA", config.peft_type
    v_dict = peft_model.base_model.tinylora_v["default"]
    groups = len(v_dict)
    v = []
    for g in range(groups):
        v += [float(x) for x in v_dict[str(g)].detach()]

    tokens = tok(TEXT, add_special_tokens=False)["input_ids"]
    positions = [0, len(tokens) // 2, len(tokens) - 1]
    with torch.no_grad():
        adapted = peft_model(torch.tensor([tokens])).logits[0]
        with peft_model.disable_adapter():
            base = peft_model(torch.tensor([tokens])).logits[0]
    ids, adapted_rows, base_rows = [], [], []
    for p in positions:
        top = torch.topk(adapted[p], TOP_K).indices.tolist()
        ids.append(top)
        adapted_rows.append([float(adapted[p, i]) for i in top])
        base_rows.append([float(base[p, i]) for i in top])
    effect = float((adapted - base).abs().max())

    out = {
        "generator": f"peft {peft.__version__}, torch {torch.__version__}",
        "model": MODEL, "text": TEXT, "tokens": tokens, "positions": positions,
        "ids": ids, "adapted": adapted_rows, "base": base_rows,
        "v": v, "groups": groups, "max_effect": effect,
    }
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peft_export_logits.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print("wrote", path, "groups", groups, "max |adapted - base|", effect, file=sys.stderr)


if __name__ == "__main__":
    main()
