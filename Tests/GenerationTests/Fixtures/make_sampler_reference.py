"""Writes sampler_reference.json: for small logits rows and sampling settings, the probability distribution that
transformers samples from, built with transformers' own logits processors in the order
GenerationMixin._get_logits_processor applies them (repetition penalty, then temperature, top-k, top-p, min-p),
followed by softmax -- exactly what `generate(do_sample=True)` feeds to torch.multinomial.

Run: /root/.cache/tinylora/venv-ref/bin/python make_sampler_reference.py  (transformers 5.23.0, torch CPU)
"""
import json
import os

import torch
from transformers.generation.logits_process import (
    LogitsProcessorList,
    MinPLogitsWarper,
    RepetitionPenaltyLogitsProcessor,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

generator = torch.Generator().manual_seed(1234)


def random_logits(vocab, scale):
    return (torch.randn(vocab, generator=generator) * scale).tolist()


cases = []


def add(name, logits, history, temperature=1.0, top_k=0, top_p=1.0, min_p=0.0, repetition_penalty=1.0):
    processors = LogitsProcessorList()
    if repetition_penalty != 1.0:
        processors.append(RepetitionPenaltyLogitsProcessor(repetition_penalty))
    if temperature != 1.0:
        processors.append(TemperatureLogitsWarper(temperature))
    if top_k != 0:
        processors.append(TopKLogitsWarper(top_k))
    if top_p < 1.0:
        processors.append(TopPLogitsWarper(top_p))
    if min_p != 0.0:
        processors.append(MinPLogitsWarper(min_p))
    scores = torch.tensor([logits], dtype=torch.float32)
    ids = torch.tensor([history if history else [0]], dtype=torch.long)
    if not history:
        assert repetition_penalty == 1.0
    processed = processors(ids, scores)
    probs = processed.softmax(dim=-1)[0]
    cases.append({
        "name": name,
        "logits": [float(x) for x in torch.tensor(logits, dtype=torch.float32).tolist()],
        "history": history,
        "temperature": temperature,
        "top_k": top_k,
        "top_p": top_p,
        "min_p": min_p,
        "repetition_penalty": repetition_penalty,
        "probabilities": [float(p) for p in probs.tolist()],
    })


# Hand-checkable rows.
add("plain softmax", [1.0, 2.0, 3.0, 0.0], [])
add("temperature 0.5", [1.0, 2.0, 3.0, 0.0], [], temperature=0.5)
add("top-k 2", [1.0, 2.0, 3.0, 0.0], [], top_k=2)
add("top-k ties at the boundary are kept", [1.0, 2.0, 2.0, 3.0, 0.0], [], top_k=2)
add("top-p 0.7", [1.0, 2.0, 3.0, 0.0], [], top_p=0.7)
add("top-p tiny keeps one", [1.0, 2.0, 3.0, 0.0], [], top_p=0.01)
add("min-p 0.3", [1.0, 2.0, 3.0, 0.0], [], min_p=0.3)
add("repetition penalty on positive and negative logits", [1.0, -2.0, 3.0, 0.5], [0, 1, 1], repetition_penalty=2.0)
# Random rows with every combination that matters.
for i, (t, k, p, m, r) in enumerate([
    (1.0, 0, 0.9, 0.0, 1.0),
    (0.7, 10, 1.0, 0.0, 1.0),
    (0.7, 0, 0.8, 0.0, 1.0),
    (1.3, 20, 0.95, 0.0, 1.0),
    (0.8, 0, 1.0, 0.1, 1.0),
    (1.0, 15, 0.9, 0.05, 1.3),
    (0.6, 0, 0.5, 0.2, 1.1),
    (2.0, 5, 1.0, 0.0, 1.0),
]):
    vocab = 40
    logits = random_logits(vocab, 1.5)
    history = [3, 7, 7, 12, 30] if r != 1.0 else []
    add("random %d" % i, logits, history, temperature=t, top_k=k, top_p=p, min_p=m, repetition_penalty=r)

path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sampler_reference.json")
with open(path, "w") as f:
    json.dump({"cases": cases}, f, indent=1)
    f.write("\n")
print("wrote", path, len(cases), "cases")
