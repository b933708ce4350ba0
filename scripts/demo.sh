#!/usr/bin/env bash
# The main job: teach Qwen2.5-Coder-0.5B-Instruct with a 13-parameter TinyLoRA adapter and GRPO on the CPU.
# Installs what it needs, builds the release CLI, fetches the default model (a no-op once cached), then runs
# `tinylora demo`: held-out accuracy before, GRPO training, accuracy after, the adapter's size and the reward curve
# (written into ./demo-run). Extra arguments go to `tinylora demo` (see `tinylora demo --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build -c release
bin="$(swift build -c release --show-bin-path)/tinylora"
"$bin" fetch qwen2.5-coder-0.5b >/dev/null
"$bin" demo "$@"
