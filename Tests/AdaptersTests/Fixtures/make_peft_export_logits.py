#!/usr/bin/env python3
"""Writes peft_export_logits.json: PEFT's logits with the TinyLoRA adapter our Swift code exported, on SmolLM2-135M
(or, with --model qwen2.5-coder-0.5b, peft_export_logits_qwen2.5-coder-0.5b.json on Qwen2.5-Coder-0.5B-Instruct).

Reference for ExportPEFTTinyLoRATests.swift (QwenExportTests.swift for Qwen2.5). transformers loads the SmolLM2 GGUF (dequantized to fp32); peft's
PeftModel.from_pretrained loads the exported directory (adapter_config.json + adapter_model.safetensors, written by
the Swift test when run with TINYLORA_WRITE_PEFT_EXPORT=DIR) with no change by us. For a fixed token sequence it
records, at a few positions, the top-k token ids of the adapted logits with their adapted and base (adapter
disabled) fp32 logits, plus the trained v PEFT loaded (to tie the fixture to the test's adapter).

Usage (from this directory):
  TINYLORA_WRITE_PEFT_EXPORT=/tmp/smollm2-peft-tinylora swift test -c release --filter ExportPEFTTinyLoRATests
  /root/.cache/tinylora/venv-ref/bin/python make_peft_export_logits.py /tmp/smollm2-peft-tinylora [MODELS_DIR]
Qwen2.5-Coder-0.5B:
  TINYLORA_WRITE_PEFT_EXPORT_QWEN=/tmp/qwen-peft-tinylora swift test -c release --filter QwenExportTests/testQwenLogitsMatchPEFT
  /root/.cache/tinylora/venv-ref/bin/python make_peft_export_logits.py /tmp/qwen-peft-tinylora --model qwen2.5-coder-0.5b
Versions used: torch 2.13 (CPU), transformers 5.23.0, gguf 0.19.0, peft 0.21.2.
"""
import argparse
import json
import os
import sys

import peft
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

MODELS = {"smollm2-135m": ("SmolLM2-135M-Instruct.Q4_1.gguf", "peft_export_logits.json"),
          "qwen2.5-coder-0.5b": ("Qwen2.5-Coder-0.5B-Instruct.gguf", "peft_export_logits_qwen2.5-coder-0.5b.json")}
TEXT = "Question: Tom has 3 apples and buys 5 more. How many apples does he have? Answer:"
TOP_K = 8


def main():
    torch.set_num_threads(2)
    ap = argparse.ArgumentParser()
    ap.add_argument("adapter_dir")
    ap.add_argument("models_dir", nargs="?")
    ap.add_argument("--model", choices=sorted(MODELS), default="smollm2-135m")
    a = ap.parse_args()
    MODEL, fixture_name = MODELS[a.model]
    adapter_dir = a.adapter_dir
    home = os.environ.get("TINYLORA_HOME", os.path.expanduser("~/.cache/tinylora"))
    models_dir = a.models_dir or os.path.join(home, "models")

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
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), fixture_name)
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print("wrote", path, "groups", groups, "max |adapted - base|", effect, file=sys.stderr)


if __name__ == "__main__":
    main()
