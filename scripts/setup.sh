#!/usr/bin/env bash
# Installs what building and testing need on a fresh Debian machine (run as root). Idempotent.
set -euo pipefail
need=()
for p in libopenblas-dev zlib1g-dev pkg-config; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
    echo "setup: installing ${need[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "setup: swift is not on PATH (Swift 6 toolchain required)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "setup: python3 is required to fetch model packages" >&2; exit 1; }
