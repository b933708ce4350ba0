#!/usr/bin/env python3
"""Writes logits_fixture.json: transformers' fp32 logits and greedy continuations on the two GGUF models.

Reference for the Swift golden test (TransformerTests/GoldenLogitsTests.swift). transformers dequantizes each
GGUF tensor to fp32 (via gguf-py) and runs its own fp32 Llama/Qwen2 code, so this is an independent fp32 engine
on the same weights. Token ids come from the transformers tokenizer and are stored in the fixture, so the Swift
test does not depend on our tokenizer.

For every prompt the fixture holds, at a few positions (early, middle, last four), the top-20 token ids with
their logits and the logsumexp over the whole vocabulary, plus the greedy continuation of up to 32 tokens that
stops after the first end-of-turn / end-of-text token (the stop token is included).

Usage: /root/.cache/tinylora/venv-ref/bin/python make_logits_fixture.py [MODELS_DIR]
MODELS_DIR defaults to $TINYLORA_HOME/models (TINYLORA_HOME defaults to ~/.cache/tinylora).
Versions used: torch 2.13 (CPU), transformers 5.23.0, gguf 0.19.0, accelerate 1.15.0 (needed for GGUF loading).
"""
import json
import os
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

TOP_K = 20
MAX_NEW = 32
MODELS = [
    "SmolLM2-135M-Instruct.Q4_1.gguf",
    "Qwen2.5-Coder-0.5B-Instruct.gguf",
]
# A longer document (a few hundred tokens) so RoPE and attention are checked far from position 0.
LONG_PROMPT = (
    "Rivers shape the land they cross. Over thousands of years a river carves its valley, carries sand and "
    "gravel downstream, and builds wide plains where it floods. Early towns grew beside rivers because the "
    "water gave them drink, food, and a road to trade along. Mills turned on their currents, and later dams "
    "held them back to make power. Today engineers measure a river's flow in cubic metres per second, and "
    "they watch rainfall upstream to warn the towns below of floods. A small stream in the mountains may "
    "join others until, hundreds of kilometres later, it becomes a river wide enough for ships. The Danube, "
    "for example, starts in the Black Forest of Germany and passes through ten countries, among them Austria, "
    "Slovakia, Hungary, Croatia, Serbia, Romania, Bulgaria, Moldova and Ukraine, before it reaches the Black "
    "Sea. Its delta is home to more than three hundred kinds of birds. The Nile, the Amazon and the Yangtze "
    "are longer still. In 1858 the Great Stink forced London to build sewers along the Thames; by 1875 the "
    "city had 82 miles of main sewers and 1,100 miles of street sewers. Cleaner rivers followed, and salmon "
    "returned to the Thames more than a century later. Here is a short summary of the passage above:"
)
PLAIN_PROMPTS = [
    LONG_PROMPT,
    "The capital of France is Paris. The capital of Germany is",
    "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
]
CHAT = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What is 12 times 7? Answer briefly."},
]
END_TOKENS = ["<|im_end|>", "<|endoftext|>", "<|end_of_text|>", "</s>"]


def positions_for(n):
    picked = {1, n // 3, (2 * n) // 3, n - 4, n - 3, n - 2, n - 1}
    return sorted(p for p in picked if 0 <= p < n)


def main():
    torch.set_num_threads(2)
    home = os.environ.get("TINYLORA_HOME", os.path.expanduser("~/.cache/tinylora"))
    models_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(home, "models")
    out = {"topK": TOP_K, "maxNewTokens": MAX_NEW, "models": []}
    for file_name in MODELS:
        tok = AutoTokenizer.from_pretrained(models_dir, gguf_file=file_name)
        model = AutoModelForCausalLM.from_pretrained(models_dir, gguf_file=file_name, dtype=torch.float32)
        model.eval()
        stop_ids = sorted({i for t in END_TOKENS
                           if (i := tok.convert_tokens_to_ids(t)) is not None and i != tok.unk_token_id
                           and tok.convert_ids_to_tokens(i) == t})
        prompts = [(p, tok(p, add_special_tokens=False)["input_ids"]) for p in PLAIN_PROMPTS]
        chat_text = tok.apply_chat_template(CHAT, tokenize=False, add_generation_prompt=True)
        prompts.append((chat_text, tok(chat_text, add_special_tokens=False)["input_ids"]))
        entries = []
        for text, ids in prompts:
            with torch.no_grad():
                logits = model(torch.tensor([ids])).logits[0].float()
            checks = []
            for p in positions_for(len(ids)):
                row = logits[p]
                values, indices = torch.topk(row, TOP_K)
                checks.append({
                    "position": p,
                    "top": [[int(i), float(v)] for i, v in zip(indices, values)],
                    "logsumexp": float(torch.logsumexp(row.double(), dim=0)),
                })
            # Greedy continuation, one token at a time with transformers' KV cache.
            continuation = []
            with torch.no_grad():
                step = model(torch.tensor([ids]), use_cache=True)
                for _ in range(MAX_NEW):
                    nxt = int(step.logits[0, -1].argmax())
                    continuation.append(nxt)
                    if nxt in stop_ids:
                        break
                    step = model(torch.tensor([[nxt]]), past_key_values=step.past_key_values, use_cache=True)
            entries.append({"text": text, "ids": ids, "checks": checks, "greedy": continuation})
            print(file_name, len(ids), "tokens ->", repr(tok.decode(continuation)), file=sys.stderr)
        out["models"].append({"file": file_name, "stopIds": stop_ids, "prompts": entries})
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "logits_fixture.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
        f.write("\n")
    print("wrote", path, file=sys.stderr)


if __name__ == "__main__":
    main()
