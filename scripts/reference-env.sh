#!/usr/bin/env bash
# Creates (once) the Python environment used only to regenerate golden fixtures and to run the reference side of
# the benchmark: pinned CPU torch, transformers, gguf, peft, llama-cpp-python and friends. The Swift product never needs
# it (trl only for the GRPO loss fixture). Idempotent: an environment that already holds the pinned versions is left alone.
# Prints the path of the environment's python as its last line.
set -euo pipefail
home="${TINYLORA_HOME:-$HOME/.cache/tinylora}"
venv="$home/venv-ref"
py="$venv/bin/python"
# name==version as pip spells them; torch comes from the machine image's CPU wheel when there is one.
pins=(torch==2.13.0 transformers==5.23.0 gguf==0.19.0 jinja2==3.1.6 numpy==2.4.6 sentencepiece==0.2.3
      accelerate==1.15.0 peft==0.21.2 llama-cpp-python==0.3.36 trl==1.16.0)

missing() {  # prints the pins the environment lacks (version compared without a +local suffix)
    "$py" - "${pins[@]}" <<'PY'
import sys
from importlib import metadata
for pin in sys.argv[1:]:
    name, version = pin.split("==")
    try:
        have = metadata.version(name).split("+")[0]
    except metadata.PackageNotFoundError:
        have = None
    if have != version:
        print(pin)
PY
}

mkdir -p "$home"
[ -x "$py" ] || python3 -m venv "$venv"
need=$(missing)
if [ -n "$need" ]; then
    echo "reference-env: installing $(echo $need)" >&2
    for pin in $need; do
        case "$pin" in
        torch==*)
            whl=$(ls /opt/wheels/torch-2.13.0+cpu-*.whl 2>/dev/null | head -1 || true)
            if [ -n "$whl" ]; then "$py" -m pip install -q "$whl"
            else "$py" -m pip install -q torch==2.13.0; fi ;;
        llama-cpp-python==*)
            # Builds llama.cpp from source (about 4 minutes on 2 cores).
            "$py" -m pip install -q "$pin" ;;
        *) "$py" -m pip install -q "$pin" ;;
        esac
    done
    need=$(missing)
    [ -z "$need" ] || { echo "reference-env: still missing: $need" >&2; exit 1; }
fi
echo "$py"
