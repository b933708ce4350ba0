#!/bin/bash
# Controls for the 13-parameter GRPO row (RESULTS.md, "Control: is the trained direction of the 13 values special?"):
# its v replaced by random directions of the same norm (seeds 1 and 2) and by −v, each scored exactly as the rows
# are (`scripts/replicate.sh score`: the same GSM8K subset, greedy, 512 tokens, bf16 weights where the CPU has
# AVX-512 BF16).
#
#   bash results/controls/run.sh            # all three; a control already scored is left alone
#
# REPLICATE_BIN and REPLICATE_ROOT work as for the rows (the published numbers used the rows' pinned binary, commit
# 9c44715; see RESULTS.md). Writes runs/controls/NAME/ and results/controls/NAME/.
set -euo pipefail
cd "$(dirname "$0")/../.."
made=$(mktemp -d)
trap 'rm -rf "$made"' EXIT
for control in random-1:1 random-2:2 negated:negate; do
    name=${control%%:*} seed=${control##*:}
    python3 results/controls/random_direction.py results/adapters/tinylora-13-grpo.tla "$seed" "$made/$name.tla"
    bash scripts/replicate.sh score "$name" "$made/$name.tla"
done
