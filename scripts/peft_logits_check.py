#!/usr/bin/env python3
"""Issue 6's PEFT half of the portability check: a trained adapter, exported by `tinylora export --format
peft-tinylora`, gives the same logits in PEFT as in our engine.

    python scripts/peft_logits_check.py --gguf MODEL.gguf --adapter results/adapters/ROW.tla \
        --ours results/rows/ROW/results.jsonl.gz --out results/portability/ROW-peft [--items 4] [--last 16]

Run it with the reference environment's python (`"$(bash scripts/reference-env.sh | tail -1)"`). For each of the
first --items items of one of our evaluations (results.jsonl, plain or gzip), the token ids are the chat-rendered
prompt (`tinylora tokenize --messages --add-generation-prompt`, as eval rendered it) followed by our completion's
tokens (`tinylora tokenize --text`), cut at 384 tokens: realistic inputs on which the trained adapter acts. On the
last --last positions of each, `tinylora score` (fp32 weights) gives the top-8 adapted logits and the top-64 base
ones;
transformers loads the same GGUF (dequantized to fp32) and PEFT's `PeftModel.from_pretrained` loads the exported
directory, with no change by us. Compared at our top-8 ids of every position:
  - adapted gap: |ours − PEFT| of the adapted logits;
  - effect gap: |(ours adapted − ours base) − (PEFT adapted − PEFT base)|, the adapter's own contribution, free of
    the two engines' base-model rounding;
  - effect size: max |PEFT adapted − PEFT base|, so that a "match" of an adapter that does nothing is visible as such;
  - top-1 agreement of the adapted logits.
Writes OUT/comparison.json and prints it; exits 1 when the adapted gap exceeds 0.05 or the effect gap exceeds
0.01 + 1% of the effect size (the tolerances of QwenExportTests for a random adapter).
"""
import argparse
import json
import os
import subprocess
import sys

import tinylora_cli
from tinylora_cli import run_json

TOP_K = 8
BASE_TOP_K = 64
MAX_TOKENS = 384


def token_ids(binary, model, item):
    prompt = tinylora_cli.prompt_ids(binary, model, item["prompt"])
    completion = run_json([binary, "tokenize", "--model", model, "--text", item["completion"], "--json"])["ids"]
    return (prompt + completion)[:MAX_TOKENS]


def our_logits(binary, model, ids, last, adapter, top_k):
    """{position: {id: logit}} for the last `last` positions (our top_k ids)."""
    args = [binary, "score", "--model", model, "--ids", ",".join(map(str, ids)), "--top-k", str(top_k),
            "--last", str(last), "--json"]
    if adapter:
        args += ["--adapter", adapter]
    return {p["index"]: {int(i): float(x) for i, x in p["top"]} for p in run_json(args)["positions"]}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gguf", required=True, help="the base model's GGUF (ours and transformers load the same file)")
    ap.add_argument("--adapter", required=True, help="our native adapter file (.tla)")
    ap.add_argument("--ours", required=True, help="our eval's results.jsonl(.gz): prompts and completions")
    ap.add_argument("--out", required=True, help="directory for comparison.json and the PEFT export")
    ap.add_argument("--items", type=int, default=4)
    ap.add_argument("--last", type=int, default=16, help="positions compared per item, counted from the end")
    ap.add_argument("--binary", help="our binary (default: this checkout's release build)")
    a = ap.parse_args()
    binary = tinylora_cli.binary(a.binary)
    os.makedirs(a.out, exist_ok=True)
    export_dir = os.path.join(a.out, "peft-tinylora")
    exported = subprocess.run([binary, "export", "--model", a.gguf, "--adapter", a.adapter, "--format",
                               "peft-tinylora", "--out", export_dir], capture_output=True, text=True)
    if exported.returncode != 0:
        sys.exit(f"tinylora export failed: {exported.stderr.strip()}")

    items = tinylora_cli.read_results(a.ours, a.items)
    if len(items) < a.items:
        sys.exit(f"{a.ours} holds {len(items)} items, fewer than --items {a.items}")
    inputs = [token_ids(binary, a.gguf, item) for item in items]
    # The base rows are wider, so that the adapted top-8 ids are among them.
    ours = [(our_logits(binary, a.gguf, ids, a.last, a.adapter, TOP_K),
             our_logits(binary, a.gguf, ids, a.last, None, BASE_TOP_K)) for ids in inputs]

    import peft
    import torch
    import transformers
    from peft import PeftModel
    from transformers import AutoModelForCausalLM
    torch.set_num_threads(2)
    model = AutoModelForCausalLM.from_pretrained(os.path.dirname(os.path.abspath(a.gguf)),
                                                 gguf_file=os.path.basename(a.gguf), dtype=torch.float32)
    peft_model = PeftModel.from_pretrained(model, export_dir)
    peft_model.eval()
    assert peft_model.peft_config["default"].peft_type == "TINYLORA"

    adapted_gap = effect_gap = effect_size = 0.0
    top1_same = positions = missing = 0
    per_item = []
    for ids, (adapted_ours, base_ours) in zip(inputs, ours):
        with torch.no_grad():
            adapted = peft_model(torch.tensor([ids])).logits[0]
            with peft_model.disable_adapter():
                base = peft_model(torch.tensor([ids])).logits[0]
        item = {"tokens": len(ids), "adapted_gap": 0.0, "effect_gap": 0.0, "effect_size": 0.0}
        for p, top in adapted_ours.items():
            ours_top1 = max(top, key=top.get)
            top1_same += int(ours_top1 == int(torch.argmax(adapted[p])))
            positions += 1
            item["effect_size"] = max(item["effect_size"], float((adapted[p] - base[p]).abs().max()))
            for i, x in top.items():
                item["adapted_gap"] = max(item["adapted_gap"], abs(x - float(adapted[p, i])))
                if i not in base_ours[p]:
                    missing += 1
                    continue
                ours_effect = x - base_ours[p][i]
                peft_effect = float(adapted[p, i] - base[p, i])
                item["effect_gap"] = max(item["effect_gap"], abs(ours_effect - peft_effect))
        adapted_gap = max(adapted_gap, item["adapted_gap"])
        effect_gap = max(effect_gap, item["effect_gap"])
        effect_size = max(effect_size, item["effect_size"])
        per_item.append(item)

    ok = adapted_gap < 0.05 and effect_gap < 0.01 + 0.01 * effect_size
    report = {
        "adapter": a.adapter, "gguf": os.path.basename(a.gguf), "items": a.items, "positions": positions,
        "adapted_gap": adapted_gap, "effect_gap": effect_gap, "effect_size": effect_size,
        "top1_agreement": top1_same / positions, "effect_ids_not_in_base_top64": missing, "pass": ok, "per_item": per_item,
        "versions": {"peft": peft.__version__, "torch": torch.__version__, "transformers": transformers.__version__},
    }
    with open(os.path.join(a.out, "comparison.json"), "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    print(json.dumps({k: v for k, v in report.items() if k != "per_item"}))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
