#!/usr/bin/env python3
"""The committed benchmark: our engine against transformers, llama.cpp, PEFT and TRL, in one invocation.

Rows (--rows, default all), for each model (--models: smollm2-135m, qwen2.5-coder-0.5b):

generate  Prefill and batched greedy decode at each --batches size (default 1 and 16): prompts of --prompt-tokens
          random token ids, --new-tokens greedy tokens per sequence, no stop token. Engines (--engines):
  - ours:          `tinylora bench --json` (fp32 weights dequantized from the GGUF; one process per run),
  - ours-bf16:     `tinylora bench --weights bf16 --json` (shown as unavailable when the CPU lacks AVX-512 BF16),
  - ours-native:   `tinylora bench --weights native --json` (the GGUF's quantized blocks, no fp32 copy: compare
                   with llama.cpp on the same file),
  - transformers:  PyTorch CPU fp32, the same GGUF loaded with gguf_file= (dequantized to fp32), torch threads =
                   --threads, batched prefill then a batched greedy decode loop over its KV cache (what generate()
                   does), logits_to_keep=1,
  - llama.cpp:     llama-cpp-python's low-level API on the GGUF as shipped (quantized blocks), n_seq_max = batch,
                   one sequence per prompt, prompts prefilled in 512-token chunks, then one llama_decode per step
                   holding one token of every sequence,
  - llama.cpp-f32: the same on an all-F32 copy of the GGUF (scripts/bench_f32_gguf.py: every tensor dequantized;
                   made once and cached under $TINYLORA_HOME/models/f32/, never in the repository): precision
                   matched with ours and transformers.
          Prefill tokens/s = batch × prompt tokens / prefill time. Decode tokens/s = batch × (new tokens − 1) /
          decode time (the first new token comes from the prefill logits). The Python engines load the model once
          per (model, batch), make one short untimed warm-up call, and run --runs times in that process; ours loads
          it in every run (its own process, no warm-up).
backward  One adapter forward+backward of 8 sequences × 256 random tokens (--backward-sequences, --backward-tokens),
          TinyLoRA r=2, u=13 on all seven projections of every layer, all tied to one v (13 trained values), mean
          next-token log-likelihood over every position: ours `tinylora bench --backward --json` with fp32 weights
          (engine ours) and with bf16 copies of W and Wᵀ (ours-bf16, `--weights bf16`; timed: the
          lossAndGradient call) vs PyTorch+PEFT 0.21 TinyLoRA (scripts/bench_training.py peft-backward; timed:
          zero_grad, forward with all logits, cross-entropy, backward).
grpo      One GRPO step, 2 prompts × 4 samples, at most --new-tokens new tokens, temperature 1, loss dapo, lr 5e-3,
          beta 0.04 (KL to the base model = the adapter switched off, on both sides: with beta 0 ours skips the
          backward of completions whose advantage is 0, e.g. a group where all 4 answers are wrong, and TRL does
          not, so the step's work would depend on the rewards; ours also starts from a small random v, made by
          `tinylora adapter init --random-v --random-scale 0.01` and passed as --init-adapter, since from v = 0
          the KL gradient is exactly 0 and ours would skip the backward all the same), the same TinyLoRA adapter:
          ours `tinylora train --steps 1`
          with fp32 weights (ours) and with `--weights bf16 --backward-weights bf16` (ours-bf16) (timed: the step's rollout_seconds +
          backward_seconds from metrics.jsonl = rollout, rewards, log-probabilities, forward+backward, AdamW
          update; model load, factors and checkpoint writing excluded) vs TRL GRPOTrainer with a PEFT TinyLoRA model
          on CPU (scripts/bench_training.py trl-grpo; timed: on_step_begin → on_step_end of one step = generation,
          rewards, loss forward+backward, optimizer step; model load and trainer construction excluded). The same
          two chat prompts (GSM-style questions, GRPO_PROMPTS below) on both sides; completion lengths differ
          (sampling) and are reported.
factors   `tinylora bench --factors --json`: seconds to build the frozen factors (top-2 truncated SVD) of every
          target weight, ours only (target: < 10 s for Qwen's 168 modules).

Memory read bandwidth (for the batch-1 decode bound): two threads each take numpy's max over one half of a
512 MiB float32 array (a SIMD reduction reading each byte once); best of 5 passes, median over --runs. The bound
is read bandwidth ÷ bytes read per decoded token = 4 × (every weight of the GGUF except the token embedding when
the file has a separate output matrix) + the KV cache read at the mean position (prompt + new tokens / 2).

Every value is the median over --runs runs (default 3); every row shows ours, the reference, the speed ratio
ours/reference (throughput ratio; for times: reference seconds / our seconds) and each side's peak RSS (the
process's maximum resident set: VmHWM for ours, ru_maxrss for Python workers). A targets table checks issue 5's
thresholds (PASS / FAIL / not measured). Machine load (loadavg before and after), versions, OPENBLAS_* variables
(as found: never set here), our thread-pool setting (TINYLORA_THREAD_POOL) and the git commit are recorded.

Output (--output, default BENCHMARKS.md): the generated text goes between the markers
    <!-- BEGIN generated by scripts/bench.py -->  ...  <!-- END generated by scripts/bench.py -->
replacing only what is between them; everything else in the file (hand-written history) is kept. A file without
the markers gets the block right after its first line ("# Benchmarks"), and its old content is put under a
"## Earlier measurements (kept as written)" heading. `--output -` prints the block instead.
Rewritten after every row, so an interrupted run leaves its partial results (marked partial).

Run it with the reference environment (scripts/reference-env.sh prints its python):
    "$(bash scripts/reference-env.sh | tail -1)" scripts/bench.py
All rows, both models, 3 runs: about an hour on the 2 cores when quiet (57 min on 2026-11-28; the PyTorch
references dominate), more under load.
Development runs: e.g. --models smollm2-135m --rows generate --batches 1 --engines ours,llama.cpp-f32 --runs 1
--new-tokens 16 --output -
"""
import argparse
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(SCRIPTS)
MODELS = ["smollm2-135m", "qwen2.5-coder-0.5b"]
ROWS = ["generate", "backward", "grpo", "factors"]
ENGINES = ["ours", "ours-bf16", "ours-native", "transformers", "llama.cpp", "llama.cpp-f32"]
OUR_WEIGHTS = {"ours": "fp32", "ours-bf16": "bf16", "ours-native": "native"}
BEGIN = "<!-- BEGIN generated by scripts/bench.py -->"
END = "<!-- END generated by scripts/bench.py -->"
HOME = os.environ.get("TINYLORA_HOME", os.path.expanduser("~/.cache/tinylora"))
GRPO_PROMPTS = [
    {"id": "bench-1", "answer": "42",
     "messages": [{"role": "user", "content": "Tom has 17 apples. He buys 3 bags with 9 apples each and gives away "
                   "2 apples. How many apples does he have now? Let's think step by step and output the final "
                   "answer after \"####\"."}]},
    {"id": "bench-2", "answer": "35",
     "messages": [{"role": "user", "content": "A train travels 5 stations. Between each pair of stations it takes "
                   "7 minutes, plus 7 minutes waiting at the start. How many minutes does the trip take? Let's think "
                   "step by step and output the final answer after \"####\"."}]},
]


def random_prompts(vocab, batch, length, seed):
    import numpy as np
    rng = np.random.default_rng(seed)
    return rng.integers(0, vocab, size=(batch, length)).tolist()


# ---------------------------------------------------------------- workers (run in their own process)

def worker_transformers(a):
    import torch
    from transformers import AutoModelForCausalLM
    torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    model = AutoModelForCausalLM.from_pretrained(os.path.dirname(a.path), gguf_file=os.path.basename(a.path),
                                                 dtype=torch.float32)
    model.eval()
    load = time.perf_counter() - t0
    ids = torch.tensor(random_prompts(model.config.vocab_size, a.batch, a.prompt_tokens, a.seed))
    runs = []
    with torch.inference_mode():
        # Untimed warm-up (PyTorch's first calls allocate and initialize): a short prefill and two decode steps.
        out = model(input_ids=ids[:, :8], use_cache=True, logits_to_keep=1)
        for _ in range(2):
            out = model(input_ids=out.logits[:, -1].argmax(-1, keepdim=True), past_key_values=out.past_key_values,
                        use_cache=True)
        del out
        for _ in range(a.runs):
            t0 = time.perf_counter()
            out = model(input_ids=ids, use_cache=True, logits_to_keep=1)
            t1 = time.perf_counter()
            past = out.past_key_values
            nxt = out.logits[:, -1].argmax(-1, keepdim=True)
            t2 = time.perf_counter()
            for _ in range(a.new_tokens - 1):
                out = model(input_ids=nxt, past_key_values=past, use_cache=True)
                past = out.past_key_values
                nxt = out.logits[:, -1].argmax(-1, keepdim=True)
            t3 = time.perf_counter()
            runs.append(rates(a, t1 - t0, t3 - t2))
            del out, past
    return {"load_seconds": load, "runs": runs}


def worker_llamacpp(a):
    from llamacpp_batch import BatchDecoder
    t0 = time.perf_counter()
    per_seq = a.prompt_tokens + a.new_tokens + 16
    llm = BatchDecoder(a.path, ((per_seq * a.batch + 255) // 256) * 256, a.batch, a.threads)
    n_batch = llm.n_batch
    submit, argmax = llm.submit, llm.argmax
    load = time.perf_counter() - t0
    prompts = random_prompts(llm.n_vocab, a.batch, a.prompt_tokens, a.seed)

    # Untimed warm-up: a short prefill of every sequence (the cache is cleared before each timed run).
    w = min(8, a.prompt_tokens, n_batch // a.batch) if a.batch <= n_batch else 1
    submit([(prompts[s][j], j, s, j == w - 1) for s in range(min(a.batch, n_batch)) for j in range(w)])
    runs = []
    for _ in range(a.runs):
        llm.clear()
        t0 = time.perf_counter()
        nxt = [llm.prefill(s, prompt) for s, prompt in enumerate(prompts)]
        t1 = time.perf_counter()
        for step in range(a.new_tokens - 1):
            submit([(nxt[s], a.prompt_tokens + step, s, True) for s in range(a.batch)])
            nxt = [argmax(s) for s in range(a.batch)]
        t2 = time.perf_counter()
        runs.append(rates(a, t1 - t0, t2 - t1))
    llm.close()
    return {"load_seconds": load, "runs": runs}


def worker_bandwidth(a):
    """Read bandwidth in GB/s: best of 5 passes of `threads` threads each taking np.max over its share of a 512 MiB
    float32 array (numpy releases the GIL in the reduction, so the threads run in parallel)."""
    import numpy as np
    data = np.ones(128 << 20, dtype=np.float32)
    parts = np.array_split(data, a.threads)
    best = 0.0
    for _ in range(5):
        threads = [threading.Thread(target=np.max, args=(p,)) for p in parts]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        best = max(best, data.nbytes / (time.perf_counter() - t0) / 1e9)
    return {"read_gb_per_s": best}


def rates(a, prefill_seconds, decode_seconds):
    return {"prefill_tokens_per_s": a.batch * a.prompt_tokens / prefill_seconds,
            "decode_tokens_per_s": a.batch * (a.new_tokens - 1) / decode_seconds}


def run_worker(a):
    workers = {"transformers": worker_transformers, "llama.cpp": worker_llamacpp, "bandwidth": worker_bandwidth}
    result = workers[a.worker](a)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


# ---------------------------------------------------------------- driver helpers

def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def run_child(cmd, env=None):
    """Runs cmd; returns (stdout, stderr, returncode, peak RSS MiB of that child alone, via wait4)."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        p = subprocess.Popen(cmd, stdout=out, stderr=err, text=True, env=env)
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return out.read(), err.read(), p.returncode, usage.ru_maxrss / 1024


def last_json(stdout):
    return json.loads(stdout.strip().splitlines()[-1])


def failure(stderr):
    """The error line of a failed child's stderr (the first line mentioning an error, else the last line)."""
    lines = [l.strip() for l in stderr.strip().splitlines() if l.strip()]
    # A Python traceback ends with "SomeError: message"; the CLI prints "Error: ..." / "error: ...".
    errors = [l for l in lines if re.match(r"^([\w.]*(Error|Exception)|error)\b.*:", l, re.IGNORECASE)]
    return (errors or lines or ["no output"])[-1][:300]


def machine_info():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    from importlib import metadata
    versions = {"python": platform.python_version()}
    for key, dist in [("torch", "torch"), ("transformers", "transformers"), ("gguf", "gguf"),
                      ("llama_cpp", "llama_cpp_python"), ("numpy", "numpy"), ("peft", "peft"), ("trl", "trl"),
                      ("accelerate", "accelerate")]:
        try:
            versions[key] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[key] = "not installed"
    try:
        versions["swift"] = sh(["swift", "--version"]).strip().splitlines()[0]
    except Exception:  # noqa: BLE001
        versions["swift"] = "?"
    try:
        versions["openblas"] = sh(["dpkg-query", "-W", "-f=${Version}", "libopenblas0-pthread"]).strip() or "?"
    except Exception:  # noqa: BLE001
        versions["openblas"] = "?"
    try:
        commit = sh(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]).strip()
        if sh(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"]).strip():
            commit += " (with uncommitted changes)"
    except Exception:  # noqa: BLE001
        commit = "?"
    return {"cpu": cpu, "cores": os.cpu_count(), "kernel": platform.release(), "versions": versions,
            "openblas_env": {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS_")},
            "thread_pool": os.environ.get("TINYLORA_THREAD_POOL", "default (spinning pool that steps aside)"),
            "commit": commit}


def median_of(runs, key):
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else None


def model_facts(path, a):
    """fp32 weight bytes (every tensor of the GGUF × 4) and bytes read per decoded token at batch 1 (see the doc)."""
    import gguf
    reader = gguf.GGUFReader(path, "r")
    sizes = {t.name: int(t.n_elements) for t in reader.tensors}
    arch = reader.fields["general.architecture"].contents()

    def meta(key):
        return int(reader.fields[f"{arch}.{key}"].contents())

    total = sum(sizes.values())
    per_token = total - (sizes.get("token_embd.weight", 0) if "output.weight" in sizes else 0)
    layers, heads, kv_heads, hidden = meta("block_count"), meta("attention.head_count"), \
        meta("attention.head_count_kv"), meta("embedding_length")
    kv_bytes = layers * 2 * kv_heads * (hidden // heads) * 4 * (a.prompt_tokens + a.new_tokens / 2)
    return {"fp32_weight_bytes": 4 * total, "decode_bytes_per_token": 4 * per_token + kv_bytes}


def f32_copy(path):
    """The all-F32 GGUF made from `path` (made once, cached in $TINYLORA_HOME/models/f32/)."""
    directory = os.path.join(HOME, "models", "f32")
    os.makedirs(directory, exist_ok=True)
    dest = os.path.join(directory, os.path.basename(path)[:-len(".gguf")] + ".F32.gguf")
    if not os.path.exists(dest):
        print(f"  converting {os.path.basename(path)} to F32 -> {dest} ...", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, os.path.join(SCRIPTS, "bench_f32_gguf.py"), path, dest], check=True)
    return dest


# ---------------------------------------------------------------- rows

def bench_ours_generate(binary, model, batch, a, weights):
    runs, rss = [], []
    for _ in range(a.runs):
        out, err, rc, child_rss = run_child(
            [binary, "bench", "--model", model, "--batch", str(batch), "--prompt-tokens", str(a.prompt_tokens),
             "--new-tokens", str(a.new_tokens), "--threads", str(a.threads), "--seed", str(a.seed),
             "--weights", weights, "--json"])
        if rc != 0:
            return {"error": failure(err)}
        j = last_json(out)
        runs.append(j)
        rss.append(j.get("peak_rss_mb", child_rss))
    return {"runs": runs, "peak_rss_mb": max(rss)}


def bench_python_generate(engine, path, batch, a):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", engine, "--path", path, "--batch", str(batch),
           "--prompt-tokens", str(a.prompt_tokens), "--new-tokens", str(a.new_tokens), "--runs", str(a.runs),
           "--threads", str(a.threads), "--seed", str(a.seed)]
    out, err, rc, _ = run_child(cmd, env=dict(os.environ, OMP_NUM_THREADS=str(a.threads)))
    if rc != 0:
        return {"error": failure(err)}
    return last_json(out)


def bench_bandwidth(a):
    values = []
    for _ in range(a.runs):
        out, err, rc, _ = run_child([sys.executable, os.path.abspath(__file__), "--worker", "bandwidth",
                                     "--threads", str(a.threads)])
        if rc != 0:
            return {"error": failure(err)}
        values.append(last_json(out)["read_gb_per_s"])
    return {"read_gb_per_s": statistics.median(values), "runs": values}


def bench_ours_backward(binary, model, a, weights):
    runs = []
    for _ in range(a.runs):
        out, err, rc, _ = run_child(
            [binary, "bench", "--backward", "--model", model, "--batch", str(a.backward_sequences),
             "--prompt-tokens", str(a.backward_tokens), "--u", "13", "--threads", str(a.threads),
             "--seed", str(a.seed), "--weights", weights, "--json"])
        if rc != 0:
            return {"error": failure(err)}
        runs.append(last_json(out))
    return {"seconds": median_of(runs, "seconds"), "cpu_seconds": median_of(runs, "cpu_seconds"),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in runs), "runs": runs}


def bench_reference_training(worker, path, a, extra):
    cmd = [sys.executable, os.path.join(SCRIPTS, "bench_training.py"), worker, "--path", path, "--threads",
           str(a.threads), "--runs", str(a.runs), "--seed", str(a.seed), "--u", "13"] + extra
    out, err, rc, _ = run_child(cmd, env=dict(os.environ, OMP_NUM_THREADS=str(a.threads)))
    if rc != 0:
        return {"error": failure(err)}
    r = last_json(out)
    r["cpu_seconds"] = median_of(r["runs"], "cpu_seconds")
    r["completion_length_mean"] = median_of(r["runs"], "completion_length_mean")
    return r


def bench_ours_grpo(binary, model, a, prompts_path, weights):
    runs, rss = [], []
    with tempfile.TemporaryDirectory(prefix="bench-grpo-") as out_dir:
        # Start from a small random v (not 0): the policy then differs from the reference, so the KL term's gradient
        # is not exactly zero and the step runs the whole backward even when every reward is 0 (from v = 0 ours
        # would skip it, TRL would not).
        start_adapter = os.path.join(out_dir, "start.tla")
        _, err, rc, _ = run_child([binary, "adapter", "init", "--model", model, "--u", "13", "--tie", "all",
                                   "--random-v", "--random-scale", "0.01", "--out", start_adapter])
        if rc != 0:
            return {"error": failure(err)}
        for i in range(a.runs):
            run_dir = os.path.join(out_dir, f"run-{i}")
            out, err, rc, child_rss = run_child(
                [binary, "train", "--model", model, "--data", prompts_path, "--method", "grpo", "--steps", "1",
                 "--batch", str(len(GRPO_PROMPTS)), "--group", "4", "--max-tokens", str(a.new_tokens),
                 "--temperature", "1", "--beta", "0.04", "--loss-type", "dapo", "--lr", "5e-3", "--kind", "tinylora",
                 "--r", "2", "--u", "13", "--tie", "all", "--threads", str(a.threads), "--seed", str(a.seed),
                 "--weights", weights, "--backward-weights", weights,
                 "--init-adapter", start_adapter, "--checkpoint-every", "0", "--out", run_dir, "--json"])
            if rc != 0:
                return {"error": failure(err)}
            with open(os.path.join(run_dir, "metrics.jsonl")) as f:
                metrics = json.loads(f.readline())
            runs.append({"seconds": metrics["rollout_seconds"] + metrics["backward_seconds"],
                         "rollout_seconds": metrics["rollout_seconds"], "backward_seconds": metrics["backward_seconds"],
                         "completion_length_mean": metrics["completion_length_mean"],
                         "process_seconds": last_json(out)["seconds"]})
            rss.append(child_rss)
    return {"seconds": median_of(runs, "seconds"), "completion_length_mean": median_of(runs, "completion_length_mean"),
            "peak_rss_mb": max(rss), "runs": runs}


def bench_factors(binary, model, a):
    runs = []
    for _ in range(a.runs):
        out, err, rc, _ = run_child([binary, "bench", "--factors", "--model", model, "--threads", str(a.threads),
                                     "--json"])
        if rc != 0:
            return {"error": failure(err)}
        runs.append(last_json(out))
    return {"modules": runs[0]["modules"], "rank": runs[0]["rank"], "seconds": median_of(runs, "seconds"),
            "cpu_seconds": median_of(runs, "cpu_seconds"), "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
            "runs": runs}


# ---------------------------------------------------------------- main

def rerender(path):
    from bench_report import read_block, write_output  # noqa: E402
    raw = read_block(path)
    if raw is None or "run" not in raw:
        sys.exit(f"{path}: no generated block with the run's details to rebuild from (written by an older bench.py?)")
    run = raw["run"]
    a = argparse.Namespace(output=path, **run["args"])
    state = {"args": a, "info": run["info"], "load_before": run["load_before"], "load_after": run["load_after"],
             "started": run["started"], "results": raw["results"], "bandwidth": raw["bandwidth"],
             "facts": raw["facts"], "rows": run["rows"], "models": run["models"], "done": run["done"],
             "command": run["command"]}
    write_output(a, state)
    print(f"rebuilt the generated block of {path}", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(MODELS), help="comma-separated built-in model names")
    ap.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated among {','.join(ROWS)}")
    ap.add_argument("--batches", default="1,16", help="generate: batch sizes")
    ap.add_argument("--engines", default=",".join(ENGINES), help=f"generate: among {','.join(ENGINES)}")
    ap.add_argument("--prompt-tokens", type=int, default=512, help="generate: tokens per prompt")
    ap.add_argument("--new-tokens", type=int, default=128, help="generate and grpo: new tokens per sequence")
    ap.add_argument("--backward-sequences", type=int, default=8)
    ap.add_argument("--backward-tokens", type=int, default=256)
    ap.add_argument("--runs", type=int, default=3, help="runs per measurement (medians)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--binary", help="a built tinylora binary (default: build the release CLI first)")
    ap.add_argument("--output", default=os.path.join(ROOT, "BENCHMARKS.md"),
                    help="file whose generated block is rewritten, or - to print the block")
    ap.add_argument("--only-factors", action="store_true",
                    help="run only the factors row and print it as JSON (nothing written)")
    ap.add_argument("--rerender", metavar="FILE",
                    help="rebuild the generated block of FILE from the raw JSON it embeds (no measurement): "
                         "after a change to the report's tables or targets")
    ap.add_argument("--worker", choices=["transformers", "llama.cpp", "bandwidth"], help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        return run_worker(a)
    if a.rerender:
        return rerender(a.rerender)

    models = a.models.split(",")
    rows = a.rows.split(",")
    batches = [int(b) for b in a.batches.split(",")]
    engines = a.engines.split(",")
    for name, given, known in [("--models", models, MODELS), ("--rows", rows, ROWS), ("--engines", engines, ENGINES)]:
        unknown = [x for x in given if x not in known]
        if unknown:
            ap.error(f"{name}: unknown {', '.join(unknown)} (known: {', '.join(known)})")
    if a.runs < 1 or a.new_tokens < 2 or a.prompt_tokens < 1:
        ap.error("--runs >= 1, --new-tokens >= 2 and --prompt-tokens >= 1 are needed")
    if a.only_factors:
        rows = ["factors"]
    if a.binary:
        binary = a.binary
    else:
        print("building the release CLI ...", file=sys.stderr)
        subprocess.run(["swift", "build", "-c", "release", "--product", "tinylora"], cwd=ROOT, check=True,
                       stdout=sys.stderr)
        binary = os.path.join(sh(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT).strip(), "tinylora")
    paths = {m: sh([binary, "fetch", m]).strip().splitlines()[-1] for m in models}
    if a.only_factors:
        for m in models:
            print(json.dumps({"model": m, **{k: v for k, v in bench_factors(binary, m, a).items() if k != "runs"}}))
        return

    state = {"args": a, "info": machine_info(), "load_before": os.getloadavg(), "load_after": None,
             "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "results": [], "bandwidth": None,
             "facts": {m: model_facts(paths[m], a) for m in models}, "rows": rows, "models": models, "done": False}
    prompts_file = tempfile.NamedTemporaryFile("w", suffix=".jsonl", prefix="bench-grpo-", delete=False)
    prompts_file.write("".join(json.dumps(p) + "\n" for p in GRPO_PROMPTS))
    prompts_file.close()

    def record(entry):
        entry["loadavg_1min_after"] = round(os.getloadavg()[0], 2)
        print("  " + json.dumps({k: v for k, v in entry.items() if k != "runs"}), file=sys.stderr, flush=True)
        state["results"].append(entry)
        write_output(a, state)

    if "generate" in rows and 1 in batches:
        print("memory read bandwidth ...", file=sys.stderr, flush=True)
        state["bandwidth"] = bench_bandwidth(a)
        print("  " + json.dumps(state["bandwidth"]), file=sys.stderr, flush=True)
    try:
        for m in models:
            if "generate" in rows:
                for b in batches:
                    for e in engines:
                        print(f"{m} batch {b}: {e} ...", file=sys.stderr, flush=True)
                        if e in OUR_WEIGHTS:
                            r = bench_ours_generate(binary, m, b, a, OUR_WEIGHTS[e])
                        else:
                            path = f32_copy(paths[m]) if e == "llama.cpp-f32" else paths[m]
                            r = bench_python_generate("llama.cpp" if e.startswith("llama.cpp") else e, path, b, a)
                        entry = {"row": "generate", "model": m, "batch": b, "engine": e}
                        if "error" in r:
                            entry["error"] = r["error"]
                        else:
                            entry.update(prefill=median_of(r["runs"], "prefill_tokens_per_s"),
                                         decode=median_of(r["runs"], "decode_tokens_per_s"),
                                         rss=r["peak_rss_mb"], runs=r["runs"])
                        record(entry)
            if "backward" in rows:
                for e in ["ours", "ours-bf16", "peft"]:
                    print(f"{m} backward: {e} ...", file=sys.stderr, flush=True)
                    r = bench_ours_backward(binary, m, a, OUR_WEIGHTS[e]) if e in OUR_WEIGHTS else bench_reference_training(
                        "peft-backward", paths[m], a,
                        ["--sequences", str(a.backward_sequences), "--tokens", str(a.backward_tokens)])
                    record({"row": "backward", "model": m, "engine": e, **r})
            if "grpo" in rows:
                for e in ["ours", "ours-bf16", "trl"]:
                    print(f"{m} grpo: {e} ...", file=sys.stderr, flush=True)
                    r = bench_ours_grpo(binary, m, a, prompts_file.name, OUR_WEIGHTS[e]) if e in OUR_WEIGHTS else bench_reference_training(
                        "trl-grpo", paths[m], a, ["--prompts", prompts_file.name, "--group", "4",
                                                  "--new-tokens", str(a.new_tokens)])
                    record({"row": "grpo", "model": m, "engine": e, **r})
            if "factors" in rows:
                print(f"{m}: frozen factors ...", file=sys.stderr, flush=True)
                record({"row": "factors", "model": m, "engine": "ours", **bench_factors(binary, m, a)})
    finally:
        os.unlink(prompts_file.name)
    state["load_after"] = os.getloadavg()
    state["done"] = True
    write_output(a, state)
    print(f"wrote {a.output}" if a.output != "-" else "", file=sys.stderr)


if __name__ == "__main__":
    sys.path.insert(0, SCRIPTS)
    from bench_report import write_output  # noqa: E402  (the report builder, beside this file)
    main()
