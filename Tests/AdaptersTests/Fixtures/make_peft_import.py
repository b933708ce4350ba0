#!/usr/bin/env python3
"""Writes peft_tinylora_smollm2/ (a TinyLoRA adapter made by PEFT itself) and peft_import_logits.json.

Reference for ExportPEFTTinyLoRATests.testImportPEFTMadeAdapter. PEFT wraps q_proj and v_proj of layers 0 and 1 of
SmolLM2-135M (transformers loading the GGUF, fp32) with TinyLoRA (r=2, u=3, weight_tying=0.5: 2 groups), using its
own SVD factors and torch-generated projections P; v is set to fixed non-zero values (seeded torch normal, std 0.3);
the adapter is saved with save_pretrained (A, B, P and v in adapter_model.safetensors). For a fixed token sequence
the top-k ids of the adapted logits at a few positions are recorded with their adapted and base logits.

Usage (from this directory):
  /root/.cache/tinylora/venv-ref/bin/python make_peft_import.py [MODELS_DIR]
Versions used: torch 2.13 (CPU), transformers 5.23.0, gguf 0.19.0, peft 0.21.2.
"""
import json
import os
import sys

import peft
import torch
from peft import TinyLoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer

MODEL = "SmolLM2-135M-Instruct.Q4_1.gguf"
TEXT = "The river flows to the sea, and the sea returns as rain."
TOP_K = 8


def main():
    torch.set_num_threads(2)
    home = os.environ.get("TINYLORA_HOME", os.path.expanduser("~/.cache/tinylora"))
    models_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(home, "models")
    here = os.path.dirname(os.path.abspath(__file__))
    tok = AutoTokenizer.from_pretrained(models_dir, gguf_file=MODEL)
    model = AutoModelForCausalLM.from_pretrained(models_dir, gguf_file=MODEL, dtype=torch.float32)
    config = TinyLoraConfig(r=2, u=3, target_modules=["q_proj", "v_proj"], layers_to_transform=[0, 1],
                            weight_tying=0.5, projection_seed=7)
    peft_model = get_peft_model(model, config)
    peft_model.eval()
    v_dict = peft_model.base_model.tinylora_v["default"]
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for g in range(len(v_dict)):
            v_dict[str(g)].copy_(torch.normal(0.0, 0.3, size=v_dict[str(g)].shape, generator=gen))
    peft_model.save_pretrained(os.path.join(here, "peft_tinylora_smollm2"))
    os.remove(os.path.join(here, "peft_tinylora_smollm2", "README.md"))  # PEFT's model-card template

    tokens = tok(TEXT, add_special_tokens=False)["input_ids"]
    positions = [0, len(tokens) // 2, len(tokens) - 1]
    with torch.no_grad():
        adapted = peft_model(torch.tensor([tokens])).logits[0]
        with peft_model.disable_adapter():
            base = peft_model(torch.tensor([tokens])).logits[0]
    ids = [torch.topk(adapted[p], TOP_K).indices.tolist() for p in positions]
    out = {
        "generator": f"peft {peft.__version__}, torch {torch.__version__}",
        "model": MODEL, "text": TEXT, "tokens": tokens, "positions": positions, "ids": ids,
        "adapted": [[float(adapted[p, i]) for i in row] for p, row in zip(positions, ids)],
        "base": [[float(base[p, i]) for i in row] for p, row in zip(positions, ids)],
        "v": [float(x) for g in range(len(v_dict)) for x in v_dict[str(g)].detach()],
        "groups": len(v_dict),
    }
    with open(os.path.join(here, "peft_import_logits.json"), "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print("max |adapted - base|", float((adapted - base).abs().max()), file=sys.stderr)


if __name__ == "__main__":
    main()
