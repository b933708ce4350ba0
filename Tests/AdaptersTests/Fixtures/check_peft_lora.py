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
import os
import sys

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM

import peft_logits_fixture

MODEL = "SmolLM2-135M-Instruct.Q4_1.gguf"


def main():
    fixture = peft_logits_fixture.load()
    home = os.environ.get("TINYLORA_HOME", os.path.expanduser("~/.cache/tinylora"))
    models_dir = sys.argv[2] if len(sys.argv) > 2 else os.path.join(home, "models")
    model = AutoModelForCausalLM.from_pretrained(models_dir, gguf_file=MODEL, dtype=torch.float32)
    peft_model = PeftModel.from_pretrained(model, sys.argv[1])
    peft_model.eval()
    assert peft_model.peft_config["default"].peft_type == "LORA"
    with torch.no_grad():
        logits = peft_model(torch.tensor([fixture["tokens"]])).logits[0]
    peft_logits_fixture.check(logits, fixture, "peft LoRA (our export) vs PEFT TinyLoRA")


if __name__ == "__main__":
    main()
