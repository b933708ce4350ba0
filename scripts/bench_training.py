#!/usr/bin/env python3
"""Reference workers for the training rows of scripts/bench.py (run there in their own process; one JSON line out).

peft-backward: PyTorch CPU fp32 + PEFT TinyLoRA, one forward+backward of the adapter.
    The model is loaded from the GGUF with transformers (gguf_file=, dequantized to fp32), wrapped by PEFT with
    TinyLoraConfig(r=2, u=U, all seven projections, weight_tying=1.0: one group, U trainable values, as ours with
    `--tie all`). Input: SEQUENCES × TOKENS random token ids (numpy default_rng(seed); ours draws its own ids of the
    same shape). Loss: mean next-token cross-entropy over every position (labels = the ids shifted by one, the last
    ignored), as `tinylora bench --backward`'s mean log-likelihood. Timed per run: zero_grad, the forward (all
    logits), the loss and loss.backward(). --runs runs in one process (the first one included, no warm-up).

trl-grpo: TRL GRPOTrainer with a PEFT TinyLoRA model, CPU, torch.set_num_threads(THREADS).
    Same adapter as above. Dataset: the PROMPTS (chat messages, one user turn each) with their gold answers; per
    step 2 prompts × 4 generations (per_device_train_batch_size = 8, num_generations = 4), max_completion_length =
    NEW_TOKENS, temperature 1, beta 0.04 (KL to the adapter-disabled model, so every completion enters the loss
    whatever the rewards; see bench.py), loss_type dapo, one optimizer step per generation batch
    (AdamW, lr 5e-3), reward 1 when the number after the last '####' equals the gold answer. Timed per step: from
    the trainer's on_step_begin to on_step_end callback, i.e. generation (transformers generate through the PEFT
    model), reward, the loss forward and backward and the optimizer step; model loading and trainer construction
    are not timed. max_steps = --runs steps (the 2 prompts again each step).

Reference-side notes: transformers marks a model read from a GGUF as quantized (method "gguf") although its
weights are plain fp32 after loading, and the Trainer refuses to train such a model; load_model drops the tag.
PEFT's TinyLoRA init takes a full SVD of every target weight (torch.linalg.svd), which here runs several times
faster on one torch thread than on two; both workers build the PEFT model on one thread (untimed) and switch to
THREADS before anything is timed (recorded per GRPO step as torch_threads).
"""
import argparse
import json
import os
import re
import resource
import statistics
import sys
import tempfile
import time

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def load_model(path, threads):
    import torch
    from transformers import AutoModelForCausalLM
    torch.set_num_threads(threads)
    model = AutoModelForCausalLM.from_pretrained(os.path.dirname(path), gguf_file=os.path.basename(path),
                                                 dtype=torch.float32)
    # transformers tags a model read from a GGUF as quantized (method "gguf") although every weight is now a plain
    # fp32 tensor, and its Trainer then refuses to train it ("quantization method do not support training"). The
    # tag only records how the file was read: drop it.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    return model


def tinylora_config(u):
    from peft import TinyLoraConfig
    return TinyLoraConfig(r=2, u=u, target_modules=TARGETS, weight_tying=1.0)


def trainable_count(model):
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def worker_peft_backward(a):
    import numpy as np
    import torch
    from peft import get_peft_model
    t0 = time.perf_counter()
    model = load_model(a.path, a.threads)
    torch.set_num_threads(1)  # PEFT's full SVD of every weight (not timed) is several times faster on one thread here
    model = get_peft_model(model, tinylora_config(a.u))
    torch.set_num_threads(a.threads)
    model.train()  # TinyLoRA has no dropout; train mode as in a training step
    load = time.perf_counter() - t0
    vocab = model.config.vocab_size
    ids = torch.tensor(np.random.default_rng(a.seed).integers(0, vocab, size=(a.sequences, a.tokens)))
    labels = torch.cat([ids[:, 1:], torch.full((a.sequences, 1), -100)], dim=1)
    runs = []
    for _ in range(a.runs):
        cpu0, t0 = time.process_time(), time.perf_counter()
        model.zero_grad(set_to_none=True)
        logits = model(input_ids=ids).logits  # [S, T, vocab] fp32
        loss = torch.nn.functional.cross_entropy(logits.view(-1, vocab), labels.view(-1), ignore_index=-100)
        loss.backward()
        seconds, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        grad = torch.cat([p.grad.flatten() for p in model.parameters() if p.requires_grad and p.grad is not None])
        runs.append({"seconds": seconds, "cpu_seconds": cpu, "loss": float(loss), "gradient_norm": float(grad.norm())})
        del logits, loss
    return {"load_seconds": load, "trainable_parameters": trainable_count(model), "runs": runs}


def final_answer(text):
    m = re.findall(r"####\s*(-?[\d,]*\.?\d+)", text)
    return m[-1].replace(",", "") if m else None


def worker_trl_grpo(a):
    import torch
    from datasets import Dataset
    from transformers import AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    with open(a.prompts) as f:
        records = [json.loads(line) for line in f if line.strip()]
    dataset = Dataset.from_list([{"prompt": r["messages"], "answer": str(r["answer"])} for r in records])

    def correct(completions, answer, **_):
        texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
        return [1.0 if final_answer(t) == g else 0.0 for t, g in zip(texts, answer)]

    t0 = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(os.path.dirname(a.path), gguf_file=os.path.basename(a.path))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = load_model(a.path, a.threads)
    out = tempfile.mkdtemp(prefix="bench-trl-")
    torch.set_num_threads(1)  # for PEFT's SVDs inside the trainer's construction (not timed); reset below
    config = GRPOConfig(
        output_dir=out, use_cpu=True, bf16=False, fp16=False, report_to="none", save_strategy="no",
        logging_steps=1, max_steps=a.runs, per_device_train_batch_size=len(records) * a.group,
        gradient_accumulation_steps=1, num_generations=a.group, max_completion_length=a.new_tokens,
        temperature=1.0, beta=0.04, loss_type="dapo", learning_rate=5e-3, num_iterations=1,
        dataloader_num_workers=0, seed=a.seed, disable_tqdm=True)
    trainer = GRPOTrainer(model=model, reward_funcs=correct, args=config, train_dataset=dataset,
                          processing_class=tokenizer, peft_config=tinylora_config(a.u))
    torch.set_num_threads(a.threads)
    load = time.perf_counter() - t0

    class StepTimer(TrainerCallback):
        def __init__(self):
            self.steps = []

        def on_step_begin(self, args, state, control, **kw):
            self.t0, self.cpu0 = time.perf_counter(), time.process_time()

        def on_step_end(self, args, state, control, **kw):
            self.steps.append({"seconds": time.perf_counter() - self.t0, "cpu_seconds": time.process_time() - self.cpu0,
                               "torch_threads": torch.get_num_threads()})

    timer = StepTimer()
    trainer.add_callback(timer)
    trainer.train()
    logs = [h for h in trainer.state.log_history if "completions/mean_length" in h]
    for step, log in zip(timer.steps, logs):
        step["completion_length_mean"] = log["completions/mean_length"]
        step["reward_mean"] = log.get("reward")
    return {"load_seconds": load, "trainable_parameters": trainable_count(trainer.model), "runs": timer.steps,
            "chat_template": bool(getattr(tokenizer, "chat_template", None))}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("worker", choices=["peft-backward", "trl-grpo"])
    ap.add_argument("--path", required=True, help="the GGUF file")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--u", type=int, default=13)
    ap.add_argument("--sequences", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=256)
    ap.add_argument("--prompts", help="trl-grpo: JSONL of {messages, answer}")
    ap.add_argument("--group", type=int, default=4)
    ap.add_argument("--new-tokens", type=int, default=128)
    a = ap.parse_args()
    result = worker_peft_backward(a) if a.worker == "peft-backward" else worker_trl_grpo(a)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["seconds"] = statistics.median(r["seconds"] for r in result["runs"])
    print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
