#!/usr/bin/env python3
"""Checks that peft loads our plain-LoRA export (LoRAExport.writePEFT) and gives PEFT TinyLoRA's adapted logits.

ExportPEFTTinyLoRATests writes the SmolLM2 TinyLoRA adapter as a PEFT LoRA directory (lora_A = R·A, lora_B = B,
lora_alpha = r) when run with TINYLORA_WRITE_PEFT_LORA=DIR. peft's LoRA on the transformers model of the same GGUF
must reproduce the adapted logits of peft_export_logits.json (PEFT TinyLoRA) at the recorded ids: 0.05 absolute and
the effect (adapted minus base) to 0.01. Exits non-zero on failure; writes nothing.

Usage (from this directory):
  TINYLORA_WRITE_PEFT_LORA=/tmp/smollm2-peft-lora swift test -c release --filter ExportPEFTTinyLoRATests
  /root/.cache/tinylora/venv-ref/bin/python check_peft_lora.py /tmp/smollm2-peft-lora [MODELS_DIR]
Versions used: torch 2.13 (CPU), transformers 5.23.0, gguf 0.19.0, peft 0.21.2.
"""
import json
import os
import sys

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM

MODEL = "SmolLM2-135M-Instruct.Q4_1.gguf"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "peft_export_logits.json")) as f:
        fixture = json.load(f)
    home = os.environ.get("TINYLORA_HOME", os.path.expanduser("~/.cache/tinylora"))
    models_dir = sys.argv[2] if len(sys.argv) > 2 else os.path.join(home, "models")
    model = AutoModelForCausalLM.from_pretrained(models_dir, gguf_file=MODEL, dtype=torch.float32)
    peft_model = PeftModel.from_pretrained(model, sys.argv[1])
    peft_model.eval()
    assert peft_model.peft_config["default"].peft_type == "LORA"
    with torch.no_grad():
        logits = peft_model(torch.tensor([fixture["tokens"]])).logits[0]
    worst, worst_effect = 0.0, 0.0
    for k, p in enumerate(fixture["positions"]):
        for j, i in enumerate(fixture["ids"][k]):
            ours = float(logits[p, i])
            worst = max(worst, abs(ours - fixture["adapted"][k][j]))
            worst_effect = max(worst_effect, abs((ours - fixture["base"][k][j])
                                                 - (fixture["adapted"][k][j] - fixture["base"][k][j])))
    print(f"peft LoRA (our export) vs PEFT TinyLoRA: max |logit diff| {worst}, max |effect diff| {worst_effect}")
    if worst >= 0.05 or worst_effect >= 0.01:
        sys.exit("FAILED")
    print("OK")


if __name__ == "__main__":
    main()
