#!/usr/bin/env bash
# Issue 6's paper-replication rows, one command per row (see RESULTS.md):
#   bash scripts/replicate.sh sweep ROW   # choose ROW's learning rate on a validation split of generated problems
#   bash scripts/replicate.sh run ROW     # train ROW (resumes an interrupted run), then score it on GSM8K
#   bash scripts/replicate.sh all [ROW..] # every row not scored yet, in ORDER below: sweep if needed, run, report
#   bash scripts/replicate.sh report      # RESULTS.md's table and plots from the finished rows (results_report.py)
#   bash scripts/replicate.sh score NAME ADAPTER  # a control (not a row) scored as the rows are, into results/controls/NAME
#   bash scripts/replicate.sh list        # the rows
# Training data: the built-in generator (results/configs/{grpo,sft}.yaml). Evaluation: the fixed GSM8K test subset
# gsm8k-test:subset=400,seed=2026 (ids pinned in results/gsm8k-test-subset-400-seed-2026.txt), greedy, 512 new
# tokens, the paper's prompt suffix; the same for every row. Long: a GRPO row is hours on a 2-core CPU; a killed run
# continues where its last checkpoint left it. Outputs: runs/replicate/ROW (the run), results/rows/ROW (summary.json,
# results.jsonl.gz, metrics.jsonl, train.json, commands.txt), results/adapters/ROW.tla (ROW.tla.sha256 for an adapter
# over 2 MiB), results/lr/ROW.tsv (the sweep).
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
caller=$PWD
cd "$(dirname "$0")/.."

declare -A CONFIG ARGS
row() { CONFIG[$1]=$2; ARGS[$1]=$3; }
#   name                    config  adapter sizing (trainable parameters on Qwen2.5-0.5B, 168 modules)
row tinylora-1-grpo         grpo   "--kind tinylora --r 2 --u 1 --tie all"            # 1
row tinylora-13-grpo        grpo   "--kind tinylora --r 2 --u 13 --tie all"           # 13
row tinylora-168-grpo       grpo   "--kind tinylora --r 2 --u 1 --tie 1"              # u=1 per module: 168
row tinylora-1344-grpo      grpo   "--kind tinylora --r 2 --u 8 --tie 1"              # 1344
row loraxs-r2-grpo          grpo   "--kind loraxs --r 2"                              # 672
row lora-r1-grpo            grpo   "--kind lora --r 1"                                # 549,888
row tinylora-13-bf16-grpo   grpo   "--kind tinylora --r 2 --u 13 --tie all --dtype bf16"  # 13, v saved in bf16
row tinylora-13-sft         sft    "--kind tinylora --r 2 --u 13 --tie all"           # 13
row lora-r8-sft             sft    "--kind lora --r 8"                                # 4,399,104
# Rows that take another row's learning rate instead of sweeping their own: the bf16 row differs from the 13-parameter
# row only in the type v lives in, so that is the one thing that differs between the two runs.
declare -A LR_FROM=([tinylora-13-bf16-grpo]=tinylora-13-grpo)
ROWS="base tinylora-1-grpo tinylora-13-grpo tinylora-168-grpo tinylora-1344-grpo loraxs-r2-grpo lora-r1-grpo
      tinylora-13-bf16-grpo tinylora-13-sft lora-r8-sft"
# The order of `all`: the 13-parameter comparisons first (GRPO, SFT, bf16), then the cheap SFT baseline, then the
# other sizes.
ORDER="base tinylora-13-grpo tinylora-13-sft tinylora-13-bf16-grpo lora-r8-sft tinylora-1-grpo tinylora-168-grpo
       tinylora-1344-grpo loraxs-r2-grpo lora-r1-grpo"
LEARNING_RATES=${REPLICATE_LEARNING_RATES:-"1e-4 3e-4 1e-3 3e-3 1e-2"}
EVAL_DATA=${REPLICATE_EVAL_DATA:-"gsm8k-test:subset=400,seed=2026"}
VALIDATION_DATA=${REPLICATE_VALIDATION_DATA:-"arith:split=test,seed=7,n=100,steps=2-4,max=30"}
MAX_TOKENS=${REPLICATE_MAX_TOKENS:-512}
SWEEP_STEPS=${REPLICATE_SWEEP_STEPS:-20}
MODEL=${REPLICATE_MODEL:-qwen2.5-coder-0.5b}
# Only for a quick check of this script (e.g. "--steps 1 --batch 2 --group 2 --max-tokens 16"): appended to train.
EXTRA=${REPLICATE_TRAIN_EXTRA:-}
# Where results/ and runs/ go (default: the repository).
ROOT=${REPLICATE_ROOT:-.}

# REPLICATE_BIN: a tinylora binary to use instead of this checkout's release build (e.g. a copy, so that rebuilding
# the checkout cannot disturb a run of several hours).
bin=${REPLICATE_BIN:-"$(swift build -c release --show-bin-path)/tinylora"}
[ -x "$bin" ] || swift build -c release --product tinylora
weights=fp32
grep -q avx512_bf16 /proc/cpuinfo && weights=bf16

usage() { sed -n '2,8p' "$self" >&2; exit 2; }
known() { [ "$1" = base ] || [ -n "${CONFIG[$1]:-}" ] || { echo "unknown row '$1'; rows: $ROWS" >&2; exit 2; }; }

train_args() { # ROW LR OUT: sets TRAIN_ARGS, the arguments of every `tinylora train` here but REPLICATE_TRAIN_EXTRA's
    local sizing
    read -ra sizing <<< "${ARGS[$1]}"
    TRAIN_ARGS=(--config "results/configs/${CONFIG[$1]}.yaml" --model "$MODEL" "${sizing[@]}" --lr "$2" --out "$3"
                --backward-weights "$weights")
    [ "${CONFIG[$1]}" = grpo ] && TRAIN_ARGS+=(--weights "$weights")
    return 0
}

train_line() { # ROW LR OUT: the command as commands.txt shows it
    train_args "$@"
    echo "tinylora train ${TRAIN_ARGS[*]} $EXTRA --json"
}

eval_args() { # DATA OUT [ADAPTER]: sets EVAL_ARGS, the arguments of every `tinylora eval` here
    EVAL_ARGS=(--model "$MODEL")
    [ -n "${3:-}" ] && EVAL_ARGS+=(--adapter "$3")
    EVAL_ARGS+=(--data "$1" --max-tokens "$MAX_TOKENS" --batch 64 --weights "$weights" --out "$2" --json)
}

eval_line() { # DATA OUT [ADAPTER]: the command as commands.txt shows it
    eval_args "$@"
    echo "tinylora eval ${EVAL_ARGS[*]}"
}

evaluate() { # DATA OUT [ADAPTER]
    eval_args "$@"
    "$bin" eval "${EVAL_ARGS[@]}"
}

publish_eval() { # EVAL_OUT DEST: the evaluation's summary and per-item results, as committed
    cp "$1/summary.json" "$2/summary.json"
    gzip -9 -n -c "$1/results.jsonl" > "$2/results.jsonl.gz"
}

train() { # ROW LR OUT [extra flags]
    local row=$1 lr=$2 out=$3; shift 3
    local resume=() extra
    [ -d "$out/checkpoints" ] && resume=(--resume)
    read -ra extra <<< "$EXTRA"
    train_args "$row" "$lr" "$out"
    "$bin" train "${TRAIN_ARGS[@]}" "${extra[@]}" "${resume[@]}" "$@" --json
}

case "${1:-}" in
list) echo $ROWS ;;
sweep)
    row=${2:-}; [ -n "$row" ] || usage; known "$row"
    [ "$row" != base ] || { echo "base has nothing to train" >&2; exit 2; }
    [ -z "${LR_FROM[$row]:-}" ] || { echo "$row uses the learning rate of ${LR_FROM[$row]}: sweep that row" >&2; exit 2; }
    mkdir -p "$ROOT/results/lr"
    table=$ROOT/results/lr/$row.tsv
    [ -f "$table" ] || printf 'lr\tvalidation_accuracy\tn\n' > "$table"
    for lr in $LEARNING_RATES; do
        grep -q "^$lr	" "$table" && continue
        out=$ROOT/runs/replicate-sweep/$row-$lr
        mkdir -p "$out"
        train "$row" "$lr" "$out" --steps "$SWEEP_STEPS" > "$out/train.json"
        summary=$(evaluate "$VALIDATION_DATA" "$out/validation" "$out/adapter.tla")
        accuracy=$(echo "$summary" | sed -E 's/.*"accuracy":([0-9.eE+-]+).*/\1/')
        n=$(echo "$summary" | sed -E 's/.*"n":([0-9]+).*/\1/')
        printf '%s\t%s\t%s\n' "$lr" "$accuracy" "$n" >> "$table"
    done
    best=$(tail -n +2 "$table" | sort -t$'\t' -k2,2gr -k1,1g | head -1 | cut -f1)
    echo "$best" > "$ROOT/results/lr/$row.txt"
    echo "$row: learning rate $best ($table)"
    ;;
run)
    row=${2:-}; [ -n "$row" ] || usage; known "$row"
    dest=$ROOT/results/rows/$row
    runs=$ROOT/runs/replicate
    mkdir -p "$dest" "$ROOT/results/adapters" "$runs"
    if [ "$row" = base ]; then
        eval_line "$EVAL_DATA" runs/replicate/base/eval > "$dest/commands.txt"
        evaluate "$EVAL_DATA" "$runs/base/eval" > "$dest/summary.line.json"
    else
        swept=${LR_FROM[$row]:-$row}
        [ -f "$ROOT/results/lr/$swept.txt" ] || { echo "no learning rate for $row yet: run 'bash scripts/replicate.sh sweep $swept' first" >&2; exit 1; }
        lr=$(cat "$ROOT/results/lr/$swept.txt")
        out=$runs/$row
        # The exact commands, for RESULTS.md (the binary written as `tinylora`, paths from the repository whatever
        # REPLICATE_ROOT is; a resumed run adds --resume).
        shown=runs/replicate/$row
        {
            train_line "$row" "$lr" "$shown"
            eval_line "$EVAL_DATA" "$shown/eval" "$shown/adapter.tla"
        } > "$dest/commands.txt"
        train "$row" "$lr" "$out" > "$dest/train.json"
        cp "$out/metrics.jsonl" "$dest/metrics.jsonl"
        # Adapters up to 2 MiB are committed; a larger one (LoRA r = 8: 17.6 MB) is weights, not a result file:
        # only its SHA-256 is kept (the size is in train.json), the file stays in runs/.
        if [ "$(stat -c %s "$out/adapter.tla")" -le $((2 * 1024 * 1024)) ]; then
            cp "$out/adapter.tla" "$ROOT/results/adapters/$row.tla"
        else
            (cd "$out" && sha256sum adapter.tla | sed "s/adapter.tla\$/$row.tla/") > "$ROOT/results/adapters/$row.tla.sha256"
        fi
        evaluate "$EVAL_DATA" "$out/eval" "$out/adapter.tla" > "$dest/summary.line.json"
    fi
    publish_eval "$runs/$row/eval" "$dest"
    echo "$row: $(cat "$dest/summary.line.json")"
    ;;
score)
    # An adapter that is not a row (e.g. results/controls/run.sh's), scored on the rows' GSM8K subset with their
    # settings: runs/controls/NAME (the adapter's copy and the evaluation), results/controls/NAME (NAME.tla,
    # commands.txt, summary.json, summary.line.json, results.jsonl.gz). A control already scored is left alone.
    name=${2:-} adapter=${3:-}
    [ -n "$name" ] && [ -n "$adapter" ] || usage
    case $adapter in /*) ;; *) adapter=$caller/$adapter ;; esac
    [ -f "$adapter" ] || { echo "score: no adapter file $adapter" >&2; exit 2; }
    dest=$ROOT/results/controls/$name out=$ROOT/runs/controls/$name
    [ -f "$dest/summary.json" ] && { echo "$name: already scored ($dest)"; exit 0; }
    mkdir -p "$dest" "$out"
    cp "$adapter" "$out/adapter.tla"
    eval_line "$EVAL_DATA" "runs/controls/$name/eval" "runs/controls/$name/adapter.tla" > "$dest/commands.txt"
    evaluate "$EVAL_DATA" "$out/eval" "$out/adapter.tla" > "$dest/summary.line.json"
    cp "$out/adapter.tla" "$dest/$name.tla"
    publish_eval "$out/eval" "$dest"
    echo "$name: $(cat "$dest/summary.line.json")"
    ;;
all)
    shift
    todo=${*:-$ORDER}
    for row in $todo; do known "$row"; done
    for row in $todo; do
        [ -f "$ROOT/results/rows/$row/summary.json" ] && continue
        swept=${LR_FROM[$row]:-$row}
        if [ "$row" != base ] && [ ! -f "$ROOT/results/lr/$swept.txt" ]; then bash "$self" sweep "$swept"; fi
        bash "$self" run "$row"
        bash "$self" report
    done
    ;;
report)
    rows="" lr_from=""
    for row in $ROWS; do rows="$rows $row:${CONFIG[$row]:--}"; done
    for row in "${!LR_FROM[@]}"; do lr_from="$lr_from $row:${LR_FROM[$row]}"; done
    python3 scripts/results_report.py --binary "$bin" --rows "$rows" --lr-from "$lr_from" --root "$ROOT"
    ;;
*) usage ;;
esac
