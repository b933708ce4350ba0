#!/usr/bin/env python3
"""Checks that transformers loads our merged Hugging Face directory and gives PEFT's adapted logits.

The merged directory (config.json + model.safetensors, F32) is written by ExportMergedGGUFTests when run with
TINYLORA_WRITE_MERGED_HF=DIR; its adapter is the same SmolLM2 TinyLoRA adapter (same configuration and v) that
ExportPEFTTinyLoRATests exports for PEFT, so transformers on the merged weights must reproduce the adapted logits of
peft_export_logits.json (PEFT with the adapter, unmerged) at the recorded token ids: checked to 0.05 absolute, and
the effect (merged minus the fixture's base logits) to 0.01. Exits non-zero on failure; writes nothing.

Usage (from this directory):
  TINYLORA_WRITE_MERGED_HF=/tmp/smollm2-merged-hf swift test -c release --filter ExportMergedGGUFTests
  /root/.cache/tinylora/venv-ref/bin/python check_merged_hf_transformers.py /tmp/smollm2-merged-hf
Versions used: torch 2.13 (CPU), transformers 5.23.0.
"""
import json
import os
import sys

import torch
from transformers import AutoModelForCausalLM


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "peft_export_logits.json")) as f:
        fixture = json.load(f)
    model = AutoModelForCausalLM.from_pretrained(sys.argv[1], dtype=torch.float32)
    model.eval()
    with torch.no_grad():
        logits = model(torch.tensor([fixture["tokens"]])).logits[0]
    worst, worst_effect = 0.0, 0.0
    for k, p in enumerate(fixture["positions"]):
        for j, i in enumerate(fixture["ids"][k]):
            ours = float(logits[p, i])
            worst = max(worst, abs(ours - fixture["adapted"][k][j]))
            worst_effect = max(worst_effect, abs((ours - fixture["base"][k][j])
                                                 - (fixture["adapted"][k][j] - fixture["base"][k][j])))
    print(f"transformers on merged HF dir vs PEFT: max |logit diff| {worst}, max |effect diff| {worst_effect}")
    if worst >= 0.05 or worst_effect >= 0.01:
        sys.exit("FAILED")
    print("OK")


if __name__ == "__main__":
    main()
