#!/usr/bin/env bash
# The main job, for now: a chat answer from the default built-in model (Qwen2.5-Coder-0.5B-Instruct), computed by
# this package's engine on the CPU. Installs what it needs, builds the release CLI, fetches the model (a no-op
# once cached). Idempotent. Extra arguments are passed to `tinylora generate` (e.g. --text "..." --max-tokens 300).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build -c release
bin="$(swift build -c release --show-bin-path)/tinylora"
model=qwen2.5-coder-0.5b
"$bin" fetch "$model" >/dev/null
question="Write a short Python function that checks whether a number is prime."
if [ $# -eq 0 ]; then set -- --text "$question"; fi
echo "model: $model" >&2
echo "prompt: $*" >&2
echo >&2
"$bin" generate --model "$model" --chat --max-tokens 320 --temperature 0 --stats "$@"
