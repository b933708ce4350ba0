#!/bin/bash
# Controls for the 13- and 1-parameter rows (RESULTS.md, "Control: is the trained direction of the 13 values
# special?"): the 13-parameter GRPO row's v replaced by random directions of the same norm (seeds 1 and 2) and by −v,
# the SFT row's by random directions of its norm, the 1-parameter GRPO row's by −v (its only other direction); each
# scored exactly as the rows are (`scripts/replicate.sh score`: the same GSM8K subset, greedy, 512 tokens, bf16
# weights where the CPU has AVX-512 BF16).
#
#   bash results/controls/run.sh            # every control; one already scored is left alone
#
# REPLICATE_BIN and REPLICATE_ROOT work as for the rows (the published numbers used the rows' pinned binary, commit
# 9c44715; see RESULTS.md). Writes runs/controls/NAME/ and results/controls/NAME/.
set -euo pipefail
cd "$(dirname "$0")/../.."
made=$(mktemp -d)
trap 'rm -rf "$made"' EXIT
# name  trained row  seed ("negate": −v)
while read -r name row seed; do
    python3 results/controls/random_direction.py "results/adapters/$row.tla" "$seed" "$made/$name.tla"
    bash scripts/replicate.sh score "$name" "$made/$name.tla"
done <<'CONTROLS'
random-1      tinylora-13-grpo  1
random-2      tinylora-13-grpo  2
negated       tinylora-13-grpo  negate
sft-random-1  tinylora-13-sft   1
sft-random-2  tinylora-13-sft   2
tinylora-1-negated  tinylora-1-grpo  negate
CONTROLS
