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
import sys

import torch
from transformers import AutoModelForCausalLM

import peft_logits_fixture


def main():
    fixture = peft_logits_fixture.load()
    model = AutoModelForCausalLM.from_pretrained(sys.argv[1], dtype=torch.float32)
    model.eval()
    with torch.no_grad():
        logits = model(torch.tensor([fixture["tokens"]])).logits[0]
    peft_logits_fixture.check(logits, fixture, "transformers on merged HF dir vs PEFT")


if __name__ == "__main__":
    main()
