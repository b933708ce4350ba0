#!/usr/bin/env python3
"""Writes trl_fixture.json: TRL's own GRPO loss, its gradient, clip/KL metrics, group-relative advantages, and
torch's AdamW and transformers' warm-up schedules, on small fixed inputs.

Reference for Tests/TrainingTests/TRLFixtureTests.swift.

- GRPO loss: calls `trl.GRPOTrainer._compute_loss` itself, unbound, on a stand-in trainer object that holds only the
  attributes the method reads (loss type, ε, β, δ, a one-process accelerator). The "model" returns fixed per-token
  log-probabilities as a float64 leaf tensor, so `loss.backward()` gives ∂loss/∂logp, the coefficients the Swift
  loss hands to the engine. Metrics are read back from the trainer's `_metrics`.
- Advantages: TRL's `nanstd` with the formula of `GRPOTrainer._generate_and_score_completions`
  (sum_then_normalize): A = (r − group mean) / (std + 1e-4), std of the group (`group`) or of the batch (`batch`).
- AdamW: `torch.optim.AdamW` (lr 0.01, betas (0.9, 0.999), eps 1e-8, weight decay 0.1) for 3 steps on a vector of 5.
- Schedules: `get_constant_schedule_with_warmup` and `get_cosine_schedule_with_warmup` (peak 1e-3, 3 warm-up steps,
  10 training steps), the rate of steps 0 ... 10.

Usage: /root/.cache/tinylora/venv-ref/bin/python make_trl_fixture.py   (writes beside this script)
Versions used: trl 1.16.0, torch 2.13.0 (CPU), transformers 5.23.0, accelerate 1.15.0.
"""
import json
import os
from collections import defaultdict
from types import SimpleNamespace

import torch
import transformers
import trl
from trl import GRPOTrainer
from trl.trainer.utils import nanstd

torch.manual_seed(0)
B, C = 4, 6
g = torch.Generator().manual_seed(1234)
logps = -(torch.rand(B, C, generator=g, dtype=torch.float64) * 2.5 + 0.05)
# Old log-probabilities up to ±0.6 away, so ratios fall on both sides of [1 − 0.2, 1 + 0.28].
old = logps - (torch.rand(B, C, generator=g, dtype=torch.float64) - 0.5) * 1.2
ref = logps + (torch.rand(B, C, generator=g, dtype=torch.float64) - 0.5) * 1.2
advantages = torch.tensor([1.3, -0.7, -0.4, -1.6], dtype=torch.float64)
# Completions of lengths 6, 4, 5 and a masked (truncated) one.
mask = torch.tensor([[1] * 6, [1] * 4 + [0] * 2, [1] * 5 + [0], [0] * 6], dtype=torch.float64)


class Accelerator:
    num_processes = 1
    sync_gradients = True

    def gather(self, x):
        return x

    gather_for_metrics = gather

    def reduce(self, x, reduction="sum"):
        return x


def trl_loss(loss_type, beta, delta, first_pass):
    current = logps.clone().requires_grad_(True)
    trainer = SimpleNamespace(
        loss_type=loss_type, beta=beta, epsilon_low=0.2, epsilon_high=0.28, importance_sampling_level="token",
        max_completion_length=C, top_entropy_quantile=1.0, off_policy_mask_threshold=None, use_vllm=False,
        vllm_importance_sampling_correction=False, aux_loss_enabled=False, _entropy_bonus_enabled=False,
        current_gradient_accumulation_steps=1, accelerator=Accelerator(), model=SimpleNamespace(training=True),
        _metrics={"train": defaultdict(list), "eval": defaultdict(list)},
        args=SimpleNamespace(delta=delta, use_bias_correction_kl=False, steps_per_generation=1),
    )
    trainer._get_per_token_logps_and_entropies = lambda *a, **k: (current, torch.zeros_like(current), None)
    inputs = {
        "prompt_ids": torch.zeros(B, 2, dtype=torch.long), "prompt_mask": torch.ones(B, 2, dtype=torch.long),
        "completion_ids": torch.zeros(B, C, dtype=torch.long), "completion_mask": mask,
        "advantages": advantages, "num_items_in_batch": mask.sum(),
    }
    if not first_pass:
        inputs["old_per_token_logps"] = old
    if beta != 0:
        inputs["ref_per_token_logps"] = ref
    loss = GRPOTrainer._compute_loss(trainer, None, inputs)
    loss.backward()
    metrics = {k: v[-1] for k, v in trainer._metrics["train"].items()}
    return {
        "loss_type": loss_type, "beta": beta, "delta": delta, "first_pass": first_pass,
        "loss": loss.item(), "coefficients": current.grad.tolist(),
        "clip_low": metrics["clip_ratio/low_mean"], "clip_high": metrics["clip_ratio/high_mean"],
        "clip_region": metrics["clip_ratio/region_mean"], "kl": metrics.get("kl"),
    }


cases = []
for loss_type in ["grpo", "dapo", "dr_grpo"]:
    for beta in [0.0, 0.04]:
        for delta in [None, 1.5]:
            cases.append(trl_loss(loss_type, beta, delta, first_pass=False))
    cases.append(trl_loss(loss_type, 0.04, None, first_pass=True))

rewards = torch.tensor([1, 0, 0, 1, 2, 2, 2, 2, 0.5, 0, 0, 1], dtype=torch.float32)
G = 4
grouped_mean = rewards.view(-1, G).mean(dim=1).repeat_interleave(G)
group_std = nanstd(rewards.view(-1, G), dim=1).repeat_interleave(G)
batch_std = nanstd(rewards).expand_as(rewards)
advantage_cases = {
    "rewards": rewards.tolist(), "group_size": G,
    "group": ((rewards - grouped_mean) / (group_std + 1e-4)).tolist(),
    "batch": ((rewards - grouped_mean) / (batch_std + 1e-4)).tolist(),
    "none": (rewards - grouped_mean).tolist(),
    "zero_std_groups": torch.isclose(nanstd(rewards.view(-1, G), dim=1), torch.zeros(3)).tolist(),
}

theta = torch.tensor([0.5, -1.0, 2.0, 0.0, -0.25], requires_grad=True)
optimizer = torch.optim.AdamW([theta], lr=0.01, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)
gradients = [[0.3, -0.2, 1.5, 0.0, -4.0], [0.1, 0.25, -1.0, 0.5, 2.0], [-0.6, 0.05, 0.7, -0.5, 1.0]]
adam = {"initial": theta.detach().tolist(), "gradients": gradients, "lr": 0.01, "weight_decay": 0.1, "after": []}
for grad in gradients:
    theta.grad = torch.tensor(grad)
    optimizer.step()
    adam["after"].append(theta.detach().tolist())


def rates(make):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1e-3)
    sched = make(opt)
    out = []
    for _ in range(11):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


schedules = {
    "peak": 1e-3, "warmup": 3, "total": 10,
    "constant": rates(lambda o: transformers.get_constant_schedule_with_warmup(o, num_warmup_steps=3)),
    "cosine": rates(lambda o: transformers.get_cosine_schedule_with_warmup(o, num_warmup_steps=3, num_training_steps=10)),
}

fixture = {
    "versions": {"trl": trl.__version__, "torch": torch.__version__, "transformers": transformers.__version__},
    "epsilon_low": 0.2, "epsilon_high": 0.28, "max_completion_length": C,
    "logps": logps.tolist(), "old_logps": old.tolist(), "ref_logps": ref.tolist(),
    "advantages": advantages.tolist(), "mask": mask.tolist(),
    "cases": cases, "advantage_cases": advantage_cases, "adamw": adam, "schedules": schedules,
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "trl_fixture.json")
with open(path, "w") as f:
    json.dump(fixture, f, indent=1)
print(f"wrote {path}: {len(cases)} loss cases")
