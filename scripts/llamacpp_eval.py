#!/usr/bin/env python3
"""Runs llama.cpp (llama-cpp-python) on the prompts of one of our evaluations, for issue 6's portability check.

    python scripts/llamacpp_eval.py --gguf merged.gguf --ours runs/replicate/ROW/eval/results.jsonl \
        --data gsm8k-test:subset=400,seed=2026 --out runs/portability/ROW [--limit N] [--max-tokens 512]

Run it with the reference environment's python (`"$(bash scripts/reference-env.sh | tail -1)"`). For every item of
our results.jsonl (in its order) the prompt is rendered and tokenized by `tinylora tokenize --messages
--add-generation-prompt` (the same chat template and token ids our eval used: the user message is the `prompt`
field), and llama.cpp continues exactly those token ids greedily (the argmax of its logits, --batch sequences decoded
together through its low-level API) up to --max-tokens, stopping at the model's end-of-generation tokens. Its completions go to OUT/completions.jsonl, which
`tinylora grade` then scores with our extraction (OUT/graded/summary.json, results.jsonl). The script prints the
accuracy, how many completions equal ours character for character, and the paired counts (both right, only ours
right, only llama.cpp right). Nothing here decides correctness: `tinylora grade` does, as for our own rows.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import tinylora_cli


def generate(path, prompts, max_tokens, threads, batch):
    """Greedy completions of every prompt (lists of token ids) by llama.cpp's low-level API: `batch` sequences at a
    time, each prefilled, then decoded together one token per step (argmax of the logits) until an
    end-of-generation token (not kept) or max_tokens. Returns [(text, finish_reason, tokens)] in prompt order."""
    from llamacpp_batch import BatchDecoder
    longest = max(len(p) for p in prompts)
    llm = BatchDecoder(path, ((batch * (longest + max_tokens + 16) + 255) // 256) * 256, batch, threads, quiet=True)
    results = []
    start, made = time.time(), 0
    for first in range(0, len(prompts), batch):
        group = prompts[first:first + batch]
        llm.clear()
        nxt = [llm.prefill(s, prompt) for s, prompt in enumerate(group)]
        out = [[] for _ in group]
        finish = [None] * len(group)
        for step in range(max_tokens):
            active = []
            for s in range(len(group)):
                if finish[s] is not None:
                    continue
                if llm.is_end(nxt[s]):
                    finish[s] = "stop"
                    continue
                out[s].append(nxt[s])
                if len(out[s]) == max_tokens:
                    finish[s] = "length"
                    continue
                active.append(s)
            if not active:
                break
            llm.submit([(nxt[s], len(group[s]) + step, s, True) for s in active])
            for i, s in enumerate(active):
                nxt[s] = llm.argmax(i)
        for s in range(len(group)):
            text = b"".join(llm.piece(t) for t in out[s]).decode("utf-8", errors="replace")
            results.append((text, finish[s] or "length", len(out[s]) + (1 if finish[s] == "stop" else 0)))
            made += len(out[s])
        print(f"{len(results)}/{len(prompts)} items, {made / max(time.time() - start, 1e-9):.1f} tokens/s",
              file=sys.stderr, flush=True)
    llm.close()
    return results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gguf", required=True, help="the GGUF llama.cpp runs (e.g. from `tinylora merge --out X.gguf`)")
    ap.add_argument("--ours", required=True, help="our eval's results.jsonl(.gz) (prompts, ids and our completions)")
    ap.add_argument("--data", required=True, help="the dataset spec our eval used (passed to `tinylora grade`)")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--limit", type=int, help="only the first N items")
    ap.add_argument("--max-tokens", type=int, default=512)
    ap.add_argument("--threads", type=int, default=2,
                    help="llama.cpp threads; use 1 when another process is busy (2 threads then collapse ~10x here)")
    ap.add_argument("--batch", type=int, default=16, help="sequences decoded together")
    ap.add_argument("--binary", help="the tinylora binary (default: this checkout's release build)")
    args = ap.parse_args()

    binary = tinylora_cli.binary(args.binary)
    ours = tinylora_cli.read_results(args.ours, args.limit)
    if any(r.get("sample", 0) != 0 for r in ours):
        sys.exit("error: only greedy evaluations (one sample per item) are supported")
    os.makedirs(args.out, exist_ok=True)
    prompts = [tinylora_cli.prompt_ids(binary, args.gguf, r["prompt"]) for r in ours]
    generated = generate(args.gguf, prompts, args.max_tokens, args.threads, args.batch)
    path = os.path.join(args.out, "completions.jsonl")
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        for r, (text, reason, n) in zip(ours, generated):
            f.write(json.dumps({"id": r["id"], "completion": text, "finish_reason": reason, "tokens": n},
                               ensure_ascii=False) + "\n")
    os.replace(path + ".tmp", path)

    limit = ["--limit", str(len(ours))]
    graded = subprocess.run([binary, "grade", "--data", args.data, "--completions", path, "--out",
                             os.path.join(args.out, "graded"), "--json"] + limit, check=True, capture_output=True,
                            text=True).stdout
    summary = json.loads(graded)
    theirs = {json.loads(line)["id"]: json.loads(line)
              for line in open(os.path.join(args.out, "graded", "results.jsonl"), encoding="utf-8")}
    same = sum(1 for r in ours if theirs[r["id"]]["completion"] == r["completion"])
    both = sum(1 for r in ours if r["correct"] and theirs[r["id"]]["correct"])
    only_ours = sum(1 for r in ours if r["correct"] and not theirs[r["id"]]["correct"])
    only_theirs = sum(1 for r in ours if not r["correct"] and theirs[r["id"]]["correct"])
    ours_acc = sum(r["correct"] for r in ours) / len(ours)
    report = {"llamacpp": summary, "ours_accuracy": ours_acc, "items": len(ours), "identical_completions": same,
              "both_correct": both, "only_ours_correct": only_ours, "only_llamacpp_correct": only_theirs,
              "gguf": args.gguf, "max_tokens": args.max_tokens}
    with open(os.path.join(args.out, "comparison.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=1)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
