#!/bin/bash
# Controls for the 13-parameter GRPO row (RESULTS.md, "Is the trained direction special?"): its v replaced by random
# directions of the same norm (seeds 1 and 2) and by −v, each scored exactly as the rows are (same GSM8K subset,
# greedy, 512 tokens, bf16 weights where the CPU has AVX-512 BF16).
#
#   bash results/controls/run.sh            # all three; a control already scored is skipped
#
# CONTROLS_BIN: the tinylora binary (default: this checkout's release build; the published numbers used the pinned
# binary of the rows, commit 9c44715, see RESULTS.md). Writes runs/controls/NAME/ and copies the adapter, summary and
# per-item results to results/controls/NAME/.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${CONTROLS_BIN:-"$(swift build -c release --show-bin-path)/tinylora"}
[ -x "$bin" ] || swift build -c release --product tinylora
weights=fp32
grep -q avx512_bf16 /proc/cpuinfo && weights=bf16
for control in random-1:1 random-2:2 negated:negate; do
    name=${control%%:*} seed=${control##*:}
    out=runs/controls/$name dest=results/controls/$name
    [ -f "$dest/summary.json" ] && continue
    mkdir -p "$out" "$dest"
    python3 results/controls/random_direction.py results/adapters/tinylora-13-grpo.tla "$seed" "$out/adapter.tla"
    command="tinylora eval --model qwen2.5-coder-0.5b --adapter $out/adapter.tla --data gsm8k-test:subset=400,seed=2026 --max-tokens 512 --batch 64 --weights $weights --out $out/eval --json"
    # shellcheck disable=SC2086
    "$bin" ${command#tinylora } > "$out/summary.json"
    cp "$out/adapter.tla" "$dest/$name.tla"
    cp "$out/summary.json" "$dest/summary.json"
    gzip -n -9 < "$out/eval/results.jsonl" > "$dest/results.jsonl.gz"
    echo "$command" > "$dest/commands.txt"
done
