#!/usr/bin/env bash
# Creates (once) the Python environment used only to regenerate golden fixtures and to run the reference
# side of benchmarks: pinned torch (CPU), transformers, gguf, llama-cpp-python. The Swift product never needs it.
# Prints the path of the environment's python as its last line.
set -euo pipefail
home="${TINYLORA_HOME:-$HOME/.cache/tinylora}"
venv="$home/venv-ref"
stamp="$venv/.complete-v1"
if [ ! -f "$stamp" ]; then
    mkdir -p "$home"
    python3 -m venv "$venv"
    pip="$venv/bin/pip"
    # A CPU build of torch: prefer a wheel shipped with the machine image, else PyPI.
    torch_whl=$(ls /opt/wheels/torch-2.13.0+cpu-*.whl 2>/dev/null | head -1 || true)
    if [ -n "$torch_whl" ]; then "$pip" install -q "$torch_whl"; else "$pip" install -q torch==2.13.0; fi
    "$pip" install -q transformers==5.23.0 gguf==0.19.0 jinja2==3.1.6 numpy==2.4.6 sentencepiece==0.2.3
    # llama.cpp's Python binding builds llama.cpp from source (about 4 minutes on 2 cores).
    "$pip" install -q llama-cpp-python==0.3.36
    touch "$stamp"
fi
echo "$venv/bin/python"
