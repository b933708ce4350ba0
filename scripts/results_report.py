#!/usr/bin/env python3
"""Rebuilds RESULTS.md's results table and its two plots from the rows' files (issue 6). Run by
`bash scripts/replicate.sh report`, which passes the rows in order; python3 from the system is enough.

    python3 scripts/results_report.py --binary BIN --rows "base:- tinylora-13-grpo:grpo ..." [--root .]

For every row with `results/rows/ROW/summary.json` (written by `replicate.sh run ROW`), the table gets its GSM8K
accuracy with the Wilson 95% interval (from the summary), correct and truncated counts, the paired comparison with
the base row on the same 400 items (items only this row gets right / only the base gets right, exact two-sided
McNemar p) from the per-item `results.jsonl.gz`, the trainable parameters and the adapter file's size
(`results/adapters/ROW.tla`), the learning rate (`results/lr/*.txt`) and the training budget from `metrics.jsonl`
(steps, rollout + backward seconds summed over the steps, so a resumed run counts every step once). Rows not
scored yet are listed as such. A second table lists each row's learning-rate sweep (`results/lr/ROW.tsv`). The
tables replace the blocks between their BEGIN/END markers in RESULTS.md.

Plots (drawn by `tinylora plot`): `results/accuracy-vs-parameters.svg` (accuracy against trainable parameters, log
x, GRPO and SFT as two lines with 95% error bars, the base model as a dashed line; the series' points are in
`results/plot/{grpo,sft}.jsonl`) and `results/reward-curves.svg` (each GRPO row's mean reward per step, smoothed
over 5 steps).
"""
import argparse
import json
import math
import os
import sys

import tinylora_cli

BEGIN = "<!-- BEGIN results table (scripts/results_report.py) -->"
END = "<!-- END results table -->"
SWEEPS_BEGIN = "<!-- BEGIN sweeps table (scripts/results_report.py) -->"
SWEEPS_END = "<!-- END sweeps table -->"


def mcnemar_p(gained, lost):
    """Exact two-sided McNemar: p = min(1, 2·P(X ≤ min(gained, lost))), X ~ Binomial(gained + lost, 1/2)."""
    n = gained + lost
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(gained, lost) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def per_item(path):
    return {(r["id"], r.get("sample", 0)): bool(r["correct"]) for r in tinylora_cli.read_results(path)}


def load_row(root, name, config):
    rows = os.path.join(root, "results", "rows", name)
    summary_path = os.path.join(rows, "summary.json")
    if not os.path.exists(summary_path):
        return None
    with open(summary_path) as f:
        summary = json.load(f)
    row = {"name": name, "config": config, "summary": summary, "items": per_item(os.path.join(rows, "results.jsonl.gz"))}
    train_path = os.path.join(rows, "train.json")
    train = {}
    if os.path.exists(train_path):
        with open(train_path) as f:
            train = json.load(f)
    row["trainable_parameters"] = train.get("trainable_parameters", 0)
    adapter = os.path.join(root, "results", "adapters", name + ".tla")
    row["adapter_bytes"] = os.path.getsize(adapter) if os.path.exists(adapter) else None
    row["uncommitted_adapter_bytes"] = None
    if row["adapter_bytes"] is None and os.path.exists(adapter + ".sha256"):
        # Too large to commit (over 2 MiB): its SHA-256 file is committed, its size is in train.json.
        row["uncommitted_adapter_bytes"] = train["adapter_bytes"]
    metrics_path = os.path.join(rows, "metrics.jsonl")
    if os.path.exists(metrics_path):
        with open(metrics_path) as f:
            row["metrics"] = [json.loads(line) for line in f if line.strip()]
    return row


def learning_rate(root, name, lr_from):
    path = os.path.join(root, "results", "lr", lr_from.get(name, name) + ".txt")
    return open(path).read().strip() if os.path.exists(path) else None


def pct(x):
    return f"{100 * x:.2f}%"


def table(rows, base, root, lr_from, configs):
    lines = ["| row | method | trainable parameters | adapter file | GSM8K accuracy (400) | 95% interval | correct | "
             "truncated | vs base: only this right / only base right (McNemar p) | learning rate | training |",
             "|---|---|---:|---|---:|---|---:|---:|---|---|---|"]
    for name, config in configs:
        row = rows.get(name)
        method = {"grpo": "GRPO", "sft": "SFT"}.get(config, "—")
        if row is None:
            lines.append(f"| `{name}` | {method} | | | not run yet | | | | | | |")
            continue
        s = row["summary"]
        low, high = s["ci95"]
        versus = "—"
        if base is not None and row is not base:
            common = row["items"].keys() & base["items"].keys()
            gained = sum(1 for k in common if row["items"][k] and not base["items"][k])
            lost = sum(1 for k in common if base["items"][k] and not row["items"][k])
            versus = f"{gained} / {lost} (p = {mcnemar_p(gained, lost):.2g})"
        size = "—"
        if row["adapter_bytes"] is not None:
            size = f"[`{name}.tla`](results/adapters/{name}.tla), {row['adapter_bytes']:,} bytes"
        elif row["uncommitted_adapter_bytes"] is not None:
            size = (f"{row['uncommitted_adapter_bytes']:,} bytes, not committed (over 2 MiB; "
                    f"SHA-256 in [`{name}.tla.sha256`](results/adapters/{name}.tla.sha256))")
        training = "—"
        if "metrics" in row:
            m = row["metrics"]
            seconds = sum(r.get("rollout_seconds", 0) + r.get("backward_seconds", 0) for r in m)
            training = f"{len(m)} steps, {seconds / 3600:.1f} h"
        lr = learning_rate(root, name, lr_from) or "—" if config != "-" else "—"
        lines.append(f"| `{name}` | {method} | {row['trainable_parameters']:,} | {size} | {pct(s['accuracy'])} | "
                     f"[{pct(low)}, {pct(high)}] | {s['correct']} / {s['n']} | {s['truncated']} | {versus} | {lr} | "
                     f"{training} |")
    return "\n".join(lines)


def sweeps_table(root, configs, lr_from):
    """One line per swept row: the validation accuracy of every rate tried (results/lr/ROW.tsv) and the choice."""
    lines = ["| row | validation accuracy by learning rate (100 generated problems, 20 steps each) | chosen |",
             "|---|---|---|"]
    for name, config in configs:
        if config == "-":
            continue
        if name in lr_from:
            lines.append(f"| `{name}` | uses the rate of `{lr_from[name]}` | {learning_rate(root, name, lr_from) or '—'} |")
            continue
        path = os.path.join(root, "results", "lr", name + ".tsv")
        if not os.path.exists(path):
            lines.append(f"| `{name}` | not swept yet | — |")
            continue
        with open(path) as f:
            tried = [line.rstrip("\n").split("\t") for line in f.readlines()[1:] if line.strip()]
        scores = ", ".join(f"{lr}: {100 * float(acc):.0f}%" for lr, acc, *_ in tried) or "sweeping, no rate scored yet"
        lines.append(f"| `{name}` | {scores} | {learning_rate(root, name, lr_from) or '— (sweep unfinished)'} |")
    return "\n".join(lines)


def replace_block(text, begin, end, body, where):
    if begin not in text or end not in text:
        sys.exit(f"{where} lacks the markers {begin} ... {end}")
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return head + begin + "\n" + body + "\n" + end + tail


def write_points(path, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "w") as f:
        for row in sorted(rows, key=lambda r: r["trainable_parameters"]):
            low, high = row["summary"]["ci95"]
            f.write(json.dumps({"row": row["name"], "trainable_parameters": row["trainable_parameters"],
                                "accuracy": row["summary"]["accuracy"], "accuracy_low": low,
                                "accuracy_high": high}) + "\n")
    os.replace(path + ".tmp", path)


def plot(binary, args):
    tinylora_cli.run([binary, "plot"] + args)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--binary", required=True, help="our binary (draws the plots)")
    ap.add_argument("--rows", required=True, help="space-separated NAME:CONFIG in table order (CONFIG grpo, sft or -)")
    ap.add_argument("--lr-from", default="", help="space-separated ROW:OTHER, rows using OTHER's learning rate")
    ap.add_argument("--root", default=".")
    a = ap.parse_args()
    configs = [tuple(item.split(":", 1)) for item in a.rows.split()]
    lr_from = dict(item.split(":", 1) for item in a.lr_from.split())
    rows = {name: r for name, config in configs if (r := load_row(a.root, name, config)) is not None}
    base = rows.get("base")

    results_md = os.path.join(a.root, "RESULTS.md")
    text = open(results_md, encoding="utf-8").read()
    text = replace_block(text, BEGIN, END, table(rows, base, a.root, lr_from, configs), results_md)
    text = replace_block(text, SWEEPS_BEGIN, SWEEPS_END, sweeps_table(a.root, configs, lr_from), results_md)
    with open(results_md + ".tmp", "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(results_md + ".tmp", results_md)

    results = os.path.join(a.root, "results")
    files, names = [], []
    for config, label in (("grpo", "GRPO (RL)"), ("sft", "SFT")):
        trained = [r for r in rows.values() if r["config"] == config]
        if trained:
            path = os.path.join(results, "plot", config + ".jsonl")
            write_points(path, trained)
            files.append(path)
            names.append(label)
    if files:
        reference = ["--reference", f"base model={base['summary']['accuracy']}"] if base else []
        plot(a.binary, files + ["--out", os.path.join(results, "accuracy-vs-parameters.svg"), "--names",
                                  ",".join(names), "--x", "trainable_parameters", "--keys", "accuracy", "--error-bars",
                                  "accuracy_low,accuracy_high", "--log-x", "--title",
                                  "GSM8K accuracy (400 test items) against trainable parameters"] + reference)
    curves = [r for r in rows.values() if r["config"] == "grpo" and r.get("metrics")]
    if curves:
        plot(a.binary, [os.path.join(results, "rows", r["name"], "metrics.jsonl") for r in curves] +
             ["--out", os.path.join(results, "reward-curves.svg"), "--keys", "reward_mean", "--smooth", "5",
              "--names", ",".join(r["name"] for r in curves),
              "--title", "GRPO training reward (fraction of correct samples), 5-step moving average"])
    print(f"{results_md}: {len(rows)} of {len(configs)} rows scored")


if __name__ == "__main__":
    main()
