#!/usr/bin/env bash
# The whole test suite from a fresh clone on Debian (root): installs the build dependencies, builds the release
# CLI, fetches both built-in models and the GSM8K test split with it (a no-op once cached), then runs every test
# target optimized.
# Idempotent. Models go to $TINYLORA_HOME/models (default ~/.cache/tinylora/models).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
swift build -c release
bin="$(swift build -c release --show-bin-path)/tinylora"
"$bin" fetch smollm2-135m
"$bin" fetch qwen2.5-coder-0.5b
"$bin" fetch gsm8k-test
# XCTest only (no swift-testing tests exist), so the closing lines are the XCTest totals.
swift test -c release --disable-swift-testing
