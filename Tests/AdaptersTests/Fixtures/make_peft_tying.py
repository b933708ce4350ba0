"""Writes peft_tying.json: the tying group PEFT's TinyLoRA gives each target module, in PEFT's module order.

Reference: peft 0.21.2 (`TinyLoraConfig`, `get_peft_model`) on a randomly initialised 3-layer Qwen2 model from
transformers (no download). For each case (targets, weight_tying) it records, for every wrapped module in
`named_modules()` order, its name and the key of the shared v it uses (`_tinylora_v_key`), i.e. its group.
Run (peft is not part of the runtime; install it beside the reference env):
  pip install --no-deps --target /tmp/peft-pkg peft==0.21.2
  PYTHONPATH=/tmp/peft-pkg python make_peft_tying.py
"""
import json

import peft
import torch
from peft import TinyLoraConfig, get_peft_model
from transformers import Qwen2Config, Qwen2ForCausalLM

ALL = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
CASES = [
    (ALL, 0.0), (ALL, 0.5), (ALL, 0.75), (ALL, 0.9), (ALL, 1.0), (ALL, 0.3),
    (["q_proj", "v_proj"], 0.5), (["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj"], 0.5),
    (["down_proj", "q_proj"], 0.6),
]

config = Qwen2Config(vocab_size=64, hidden_size=32, intermediate_size=48, num_hidden_layers=3,
                     num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
results = []
for targets, wt in CASES:
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config)
    peft_model = get_peft_model(model, TinyLoraConfig(r=2, u=1, target_modules=targets, weight_tying=wt))
    modules = []
    for name, module in peft_model.named_modules():
        keys = getattr(module, "_tinylora_v_key", None)
        if isinstance(keys, dict) and "default" in keys:
            short = name.split("model.layers.")[-1]  # "<layer>.self_attn.q_proj"
            layer, rest = short.split(".", 1)
            modules.append({"layer": int(layer), "kind": rest.split(".")[-1].replace("_proj", ""),
                            "group": int(keys["default"])})
    results.append({"targets": [t.replace("_proj", "") for t in targets], "weight_tying": wt, "modules": modules})
with open("peft_tying.json", "w") as f:
    json.dump({"generator": "peft " + peft.__version__, "layers": 3, "cases": results}, f, indent=None)
