#!/usr/bin/env python3
"""The committed benchmark: prefill and decode throughput of batched greedy generation, side by side.

For each model (smollm2-135m, qwen2.5-coder-0.5b) and batch size (1, 16): prompts of --prompt-tokens random token
ids, --new-tokens greedy tokens per sequence, no stop token, measured with
  - ours:         `tinylora bench --json` (fp32 weights dequantized from the GGUF; one process per run),
  - transformers: PyTorch CPU fp32, model loaded from the same GGUF with gguf_file=, torch.set_num_threads(T),
                  batched prefill then a batched greedy decode loop over a KV cache (what generate() does), with
                  logits_to_keep=1,
  - llama.cpp:    llama-cpp-python's low-level API on the GGUF as shipped (quantized weights), n_seq_max = batch,
                  one sequence per prompt, prompts prefilled in n_batch chunks, then one llama_decode per step
                  holding one token of every sequence.
Prefill tokens/s = batch x prompt tokens / prefill time. Decode tokens/s = batch x (new tokens - 1) / decode time
(the first new token comes from the prefill logits). Medians over --runs runs (each engine loads the model once per
(model, batch); ours loads it in every run). Peak RSS is each worker process's maximum resident set.

Also, per model: the time to build an adapter's frozen factors (top-2 truncated SVD of all seven projections of every
layer, weights dequantized and fingerprinted first) with `tinylora bench --factors --json`, median of --runs runs
(`--only-factors` runs just this row and prints it without touching BENCHMARKS.md).

Run it with the reference environment (scripts/reference-env.sh prints its python):
    "$(bash scripts/reference-env.sh | tail -1)" scripts/bench.py
It builds the release CLI, fetches the models, and writes BENCHMARKS.md (see --output).
"""
import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = ["smollm2-135m", "qwen2.5-coder-0.5b"]
ENGINES = ["ours", "transformers", "llama.cpp"]


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
    import ctypes
    import numpy as np
    import llama_cpp as lc
    lc.llama_backend_init()
    mparams = lc.llama_model_default_params()
    t0 = time.perf_counter()
    model = lc.llama_model_load_from_file(a.path.encode(), mparams)
    if not model:
        raise SystemExit(f"llama.cpp could not load {a.path}")
    vocab = lc.llama_vocab_n_tokens(lc.llama_model_get_vocab(model))
    per_seq = a.prompt_tokens + a.new_tokens + 16
    n_batch = 512
    cparams = lc.llama_context_default_params()
    cparams.n_ctx = ((per_seq * a.batch + 255) // 256) * 256
    cparams.n_batch = n_batch
    cparams.n_ubatch = n_batch
    cparams.n_seq_max = a.batch
    cparams.n_threads = a.threads
    cparams.n_threads_batch = a.threads
    ctx = lc.llama_init_from_model(model, cparams)
    if not ctx:
        raise SystemExit("llama.cpp could not create a context")
    load = time.perf_counter() - t0
    prompts = random_prompts(vocab, a.batch, a.prompt_tokens, a.seed)
    batch = lc.llama_batch_init(max(n_batch, a.batch), 0, 1)

    def submit(entries):
        """entries: (token, position, sequence, wants_logits). Returns nothing; raises on failure."""
        for i, (tok, pos, seq, logits) in enumerate(entries):
            batch.token[i] = tok
            batch.pos[i] = pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = seq
            batch.logits[i] = 1 if logits else 0
        batch.n_tokens = len(entries)
        rc = lc.llama_decode(ctx, batch)
        if rc != 0:
            raise SystemExit(f"llama_decode failed with {rc}")

    def argmax(i):
        row = np.ctypeslib.as_array(lc.llama_get_logits_ith(ctx, i), shape=(vocab,))
        return int(row.argmax())

    runs = []
    for _ in range(a.runs):
        lc.llama_memory_clear(lc.llama_get_memory(ctx), True)
        t0 = time.perf_counter()
        nxt = []
        for s, prompt in enumerate(prompts):
            for start in range(0, len(prompt), n_batch):
                chunk = prompt[start:start + n_batch]
                last = start + len(chunk) == len(prompt)
                submit([(t, start + j, s, last and j == len(chunk) - 1) for j, t in enumerate(chunk)])
            nxt.append(argmax(len(chunk) - 1))
        t1 = time.perf_counter()
        for step in range(a.new_tokens - 1):
            submit([(nxt[s], a.prompt_tokens + step, s, True) for s in range(a.batch)])
            nxt = [argmax(s) for s in range(a.batch)]
        t2 = time.perf_counter()
        runs.append(rates(a, t1 - t0, t2 - t1))
    lc.llama_batch_free(batch)
    lc.llama_free(ctx)
    lc.llama_model_free(model)
    return {"load_seconds": load, "runs": runs}


def rates(a, prefill_seconds, decode_seconds):
    return {"prefill_tokens_per_s": a.batch * a.prompt_tokens / prefill_seconds,
            "decode_tokens_per_s": a.batch * (a.new_tokens - 1) / decode_seconds}


def run_worker(a):
    result = worker_transformers(a) if a.worker == "transformers" else worker_llamacpp(a)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


# ---------------------------------------------------------------- driver

def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


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
                      ("llama_cpp", "llama_cpp_python"), ("numpy", "numpy")]:
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
            "commit": commit}


def median_of(runs, key):
    return statistics.median(r[key] for r in runs)


def bench_ours(binary, model, batch, a):
    runs, rss = [], []
    for r in range(a.runs):
        out = sh([binary, "bench", "--model", model, "--batch", str(batch), "--prompt-tokens", str(a.prompt_tokens),
                  "--new-tokens", str(a.new_tokens), "--threads", str(a.threads), "--seed", str(a.seed), "--json"])
        j = json.loads(out.strip().splitlines()[-1])
        runs.append(j)
        rss.append(j["peak_rss_mb"])
    return {"runs": runs, "peak_rss_mb": max(rss)}


def bench_factors(binary, model, a):
    """`tinylora bench --factors`: seconds to build the frozen factors of every target weight (median of runs)."""
    runs = []
    for _ in range(a.runs):
        out = sh([binary, "bench", "--factors", "--model", model, "--threads", str(a.threads), "--json"])
        runs.append(json.loads(out.strip().splitlines()[-1]))
    return {"model": model, "modules": runs[0]["modules"], "rank": runs[0]["rank"],
            "seconds": median_of(runs, "seconds"), "cpu_seconds": median_of(runs, "cpu_seconds"),
            "read_seconds": median_of(runs, "read_seconds"),
            "rss": max(r["peak_rss_mb"] for r in runs), "runs": runs}


def bench_python(engine, path, batch, a):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", engine, "--path", path, "--batch", str(batch),
           "--prompt-tokens", str(a.prompt_tokens), "--new-tokens", str(a.new_tokens), "--runs", str(a.runs),
           "--threads", str(a.threads), "--seed", str(a.seed)]
    env = dict(os.environ, OMP_NUM_THREADS=str(a.threads))
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        tail = (p.stderr.strip().splitlines() or ["no output"])[-1]
        return {"error": tail}
    return json.loads(p.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--batches", default="1,16")
    ap.add_argument("--engines", default=",".join(ENGINES))
    ap.add_argument("--prompt-tokens", type=int, default=512)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--output", default=os.path.join(ROOT, "BENCHMARKS.md"))
    ap.add_argument("--only-factors", action="store_true",
                    help="run only the frozen-factor row and print it (BENCHMARKS.md is not written)")
    ap.add_argument("--worker", choices=["transformers", "llama.cpp"], help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    ap.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        return run_worker(a)

    models = a.models.split(",")
    batches = [int(b) for b in a.batches.split(",")]
    engines = a.engines.split(",")
    print("building the release CLI ...", file=sys.stderr)
    subprocess.run(["swift", "build", "-c", "release"], cwd=ROOT, check=True, stdout=sys.stderr)
    binary = os.path.join(sh(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT).strip(), "tinylora")
    paths = {m: sh([binary, "fetch", m]).strip().splitlines()[-1] for m in models}
    if a.only_factors:
        for m in models:
            r = bench_factors(binary, m, a)
            print(json.dumps({k: v for k, v in r.items() if k != "runs"}))
        return

    info = machine_info()
    load_before = os.getloadavg()
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    results = []
    for m in models:
        for b in batches:
            for e in engines:
                print(f"{m} batch {b}: {e} ...", file=sys.stderr, flush=True)
                r = bench_ours(binary, m, b, a) if e == "ours" else bench_python(e, paths[m], b, a)
                row = {"model": m, "batch": b, "engine": e}
                if "error" in r:
                    row["error"] = r["error"]
                else:
                    row.update(prefill=median_of(r["runs"], "prefill_tokens_per_s"),
                               decode=median_of(r["runs"], "decode_tokens_per_s"),
                               rss=r["peak_rss_mb"], runs=r["runs"])
                print("  " + json.dumps({k: v for k, v in row.items() if k != "runs"}), file=sys.stderr, flush=True)
                results.append(row)
                # Rewritten after every configuration, so an interrupted run still leaves its results.
                total = len(models) * len(batches) * len(engines)
                write_report(a, info, results, load_before, os.getloadavg(), started,
                             partial=None if len(results) == total else f"{len(results)} of {total} configurations")
    factor_rows = []
    for m in models:
        print(f"{m}: frozen factors ...", file=sys.stderr, flush=True)
        factor_rows.append(bench_factors(binary, m, a))
        print("  " + json.dumps({k: v for k, v in factor_rows[-1].items() if k != "runs"}), file=sys.stderr, flush=True)
    load_after = os.getloadavg()
    write_report(a, info, results, load_before, load_after, started, factors=factor_rows)
    print(f"wrote {a.output}", file=sys.stderr)


def write_report(a, info, results, load_before, load_after, started, partial=None, factors=()):
    engine_names = {"ours": "tinylora (fp32)", "transformers": "transformers fp32 (PyTorch CPU)",
                    "llama.cpp": "llama.cpp (GGUF as shipped)"}
    lines = [
        "# Benchmarks",
        "",
        f"Batched greedy generation: {a.prompt_tokens}-token prompts (random token ids), {a.new_tokens} new tokens per "
        f"sequence, no stop token, {a.threads} threads. Medians of {a.runs} runs. Prefill tokens/s = batch × prompt "
        f"tokens / prefill time; decode tokens/s = batch × ({a.new_tokens} − 1) / decode time (summed over the batch). "
        "Peak RSS is the worker process's maximum resident set (ours includes the fp32 copy of every weight).",
        "",
    ]
    if partial:
        lines += [f"**Partial run: {partial} done so far.**", ""]
    lines += [
        "| model | batch | engine | prefill tok/s | decode tok/s | peak RSS MB |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for r in results:
        name = engine_names.get(r["engine"], r["engine"])
        if "error" in r:
            lines.append(f"| {r['model']} | {r['batch']} | {name} | failed: {r['error']} | | |")
        else:
            lines.append(f"| {r['model']} | {r['batch']} | {name} | {r['prefill']:.1f} | {r['decode']:.1f} | {r['rss']:.0f} |")
    if factors:
        lines += [
            "",
            "Adapter factors (`tinylora bench --factors`): top-r truncated SVD of every target weight (all seven "
            f"projections of every layer), each read, dequantized to fp32 and fingerprinted first; {a.threads} threads; "
            f"median of {a.runs} runs.",
            "",
            "| model | modules | r | seconds | CPU seconds | of which reading (thread-seconds) | peak RSS MB |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for f in factors:
            lines.append(f"| {f['model']} | {f['modules']} | {f['rank']} | {f['seconds']:.2f} | {f['cpu_seconds']:.2f} "
                         f"| {f['read_seconds']:.2f} "
                         f"| {f['rss']:.0f} |")
    v = info["versions"]
    lines += [
        "",
        "## Machine and versions",
        "",
        f"- run started {started}; git commit {info['commit']}",
        f"- CPU: {info['cpu']} ({info['cores']} logical CPUs), Linux {info['kernel']}",
        f"- load average before: {' '.join(f'{x:.2f}' for x in load_before)}; after: "
        f"{' '.join(f'{x:.2f}' for x in load_after)} (the machine may be shared; high load lowers every number)",
        f"- {v['swift']}; OpenBLAS {v['openblas']}; OPENBLAS_* variables: "
        + (", ".join(f"{k}={val}" for k, val in sorted(info["openblas_env"].items())) or "none set"),
        f"- Python {v['python']}, torch {v['torch']}, transformers {v['transformers']}, gguf {v['gguf']}, "
        f"llama-cpp-python {v['llama_cpp']}, numpy {v['numpy']}",
        "",
        "## Commands",
        "",
        "```sh",
        '"$(bash scripts/reference-env.sh | tail -1)" scripts/bench.py'
        + (f" --models {a.models}" if a.models != ",".join(MODELS) else "")
        + (f" --batches {a.batches}" if a.batches != "1,16" else "")
        + (f" --engines {a.engines}" if a.engines != ",".join(ENGINES) else "")
        + (f" --runs {a.runs}" if a.runs != 3 else ""),
        "# ours alone, one configuration:",
        f"tinylora bench --model qwen2.5-coder-0.5b --batch 16 --prompt-tokens {a.prompt_tokens} "
        f"--new-tokens {a.new_tokens} --threads {a.threads} --json",
        "```",
        "",
        "Engines: ours runs `tinylora bench` (weights dequantized to fp32 at load, OpenBLAS sgemm for prefill, SIMD "
        "kernels for decode). transformers loads the same GGUF with `gguf_file=` (dequantized to fp32) and runs a "
        "batched prefill then a batched greedy decode loop over its KV cache with `logits_to_keep=1`. llama.cpp runs "
        "the quantized GGUF as shipped through llama-cpp-python's low-level API (one sequence id per prompt, "
        "`n_seq_max` = batch, one `llama_decode` per step for the whole batch), so it reads 4-8x fewer weight bytes "
        "per token than the fp32 engines.",
        "",
        "Raw runs (JSON):",
        "",
        "```json",
        json.dumps([{k: r[k] for k in r} for r in results], indent=None),
        "```",
        "",
    ]
    with open(a.output, "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
