#!/usr/bin/env python3
"""Writes smollm2_generation.json: transformers' greedy generations on SmolLM2-135M-Instruct (the GGUF,
dequantized to fp32 by transformers/gguf-py), for the Swift test GenerationTests/RealModelGenerationTests.swift.

Three prompts of different lengths (token ids from the transformers tokenizer are stored, so the Swift test does not
depend on our tokenizer). Each is generated alone with `model.generate(do_sample=False, max_new_tokens=MAX_NEW,
eos_token_id=stop ids)`; the continuation includes the stop token when one ends it, as transformers returns it.
`text` is the continuation without a final stop token, decoded by the transformers tokenizer; `pieces` maps every
generated id to its own decoded text (checked to concatenate to `text`), so the test can decode without our tokenizer.

Usage: /root/.cache/tinylora/venv-ref/bin/python make_smollm2_generation.py [MODELS_DIR]
MODELS_DIR defaults to $TINYLORA_HOME/models (TINYLORA_HOME defaults to ~/.cache/tinylora).
Versions used: torch 2.13 (CPU), transformers 5.23.0, gguf 0.19.0, accelerate.
"""
import json
import os
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MAX_NEW = 20
PLAIN_PROMPTS = ["The capital of France is", "def add(a, b):\n    return"]
CHAT = [{"role": "user", "content": "Say hello in one word."}]
END_TOKENS = ["<|im_end|>", "<|endoftext|>"]


def main():
    torch.set_num_threads(2)
    home = os.environ.get("TINYLORA_HOME", os.path.expanduser("~/.cache/tinylora"))
    models_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(home, "models")
    tok = AutoTokenizer.from_pretrained(models_dir, gguf_file=FILE)
    model = AutoModelForCausalLM.from_pretrained(models_dir, gguf_file=FILE, dtype=torch.float32)
    model.eval()
    stop_ids = sorted({tok.convert_tokens_to_ids(t) for t in END_TOKENS})
    texts = PLAIN_PROMPTS + [tok.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True)]
    prompts = []
    for text in texts:
        ids = tok(text, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            out = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                                 do_sample=False, max_new_tokens=MAX_NEW, eos_token_id=stop_ids,
                                 pad_token_id=stop_ids[0])
        continuation = out[0, len(ids):].tolist()
        shown = continuation[:-1] if continuation and continuation[-1] in stop_ids else continuation
        prompts.append({"prompt": text, "ids": ids, "greedy": continuation,
                        "text": tok.decode(shown, skip_special_tokens=False)})
        print(len(ids), "tokens ->", repr(prompts[-1]["text"]), continuation[-1:], file=sys.stderr)
    pieces = {}
    for entry in prompts:
        for i in entry["greedy"]:
            pieces[str(i)] = tok.decode([i], skip_special_tokens=False)
        shown = entry["greedy"][:-1] if entry["greedy"][-1] in stop_ids else entry["greedy"]
        assert "".join(pieces[str(i)] for i in shown) == entry["text"], entry["text"]
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "smollm2_generation.json")
    with open(path, "w") as f:
        json.dump({"file": FILE, "maxNewTokens": MAX_NEW, "stopIds": stop_ids, "prompts": prompts,
                   "pieces": pieces}, f, indent=1)
        f.write("\n")
    print("wrote", path, file=sys.stderr)


if __name__ == "__main__":
    main()
