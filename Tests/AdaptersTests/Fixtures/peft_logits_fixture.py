"""Shared by the check scripts that compare a reference model's logits with peft_export_logits.json (PEFT TinyLoRA's
adapted and base logits of SmolLM2 at recorded positions and token ids)."""
import json
import os
import sys


def load():
    """The fixture beside this file."""
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "peft_export_logits.json")) as f:
        return json.load(f)


def check(logits, fixture, label):
    """Compares `logits` [T, vocab] with the fixture's adapted logits: max |diff| < 0.05 and max |effect diff| < 0.01,
    where effect = logits − the fixture's base logits. Prints the figures; exits non-zero on failure."""
    worst, worst_effect = 0.0, 0.0
    for k, p in enumerate(fixture["positions"]):
        for j, i in enumerate(fixture["ids"][k]):
            ours = float(logits[p, i])
            worst = max(worst, abs(ours - fixture["adapted"][k][j]))
            worst_effect = max(worst_effect, abs((ours - fixture["base"][k][j])
                                                 - (fixture["adapted"][k][j] - fixture["base"][k][j])))
    print(f"{label}: max |logit diff| {worst}, max |effect diff| {worst_effect}")
    if worst >= 0.05 or worst_effect >= 0.01:
        sys.exit("FAILED")
    print("OK")
