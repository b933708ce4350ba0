"""Which GSM8K items do the small GRPO adapters and their controls change? (RESULTS.md, "Control")

Reads the per-item results of the base row and of every adapter that leaves most greedy answers as they were: the
three TinyLoRA GRPO rows with 1 and 13 values and the controls of their norms (random directions, −v). An item is
"flipped" by an adapter when its correctness differs from the base model's. If each adapter flipped items
independently of the others, its flips would be spread over the 400 items; the script prints how many distinct items
they actually fall on, against the number expected under independence (400 × (1 − Π(1 − fᵢ/400)) for flip counts
fᵢ), and how many of each trained row's gains some control gains too.

usage: python3 results/controls/fragile_items.py     (from the repository root; standard library and scripts/ only)
"""
import collections
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
from results_report import per_item  # noqa: E402  (the reading the results table's paired counts use)

ROWS = ["tinylora-1-grpo", "tinylora-13-grpo", "tinylora-13-bf16-grpo"]
CONTROLS = ["random-1", "random-2", "negated", "tinylora-1-negated"]


base = per_item("results/rows/base/results.jsonl.gz")
runs = {name: per_item(f"results/rows/{name}/results.jsonl.gz") for name in ROWS}
runs.update({name: per_item(f"results/controls/{name}/results.jsonl.gz") for name in CONTROLS})
for name, result in runs.items():
    if result.keys() != base.keys():
        raise SystemExit(f"{name}: its items are not the base row's")

flipped = {name: {i for i in base if result[i] != base[i]} for name, result in runs.items()}
gained = {name: {i for i in flipped[name] if runs[name][i]} for name in runs}
times_flipped = collections.Counter(i for items in flipped.values() for i in items)

survive = 1.0
for items in flipped.values():
    survive *= 1 - len(items) / len(base)
print(f"adapters: {len(runs)} ({', '.join(runs)})")
print(f"flips: {sum(len(s) for s in flipped.values())} in all, on {len(times_flipped)} distinct items "
      f"(independent flips would cover ~{len(base) * (1 - survive):.0f})")
print(f"of those items the base model gets right: {sum(base[i] for i in times_flipped)}, wrong: "
      f"{sum(not base[i] for i in times_flipped)}")
print("items by how many adapters flip them:",
      ", ".join(f"{k}: {n}" for k, n in sorted(collections.Counter(times_flipped.values()).items())))
for name in runs:
    shared = sum(1 for i in flipped[name] if times_flipped[i] >= 2)
    print(f"{name}: {len(gained[name])} gained, {len(flipped[name]) - len(gained[name])} lost; "
          f"{shared} of its {len(flipped[name])} flips also made by another adapter")
control_gains = set().union(*(gained[c] for c in CONTROLS))
for name in ROWS:
    print(f"{name}: {len(gained[name] & control_gains)} of its {len(gained[name])} gains are gained by a control too")
