#!/usr/bin/env python3
"""Writes merged_gguf_llamacpp.json: llama.cpp's greedy continuation on the merged F32 SmolLM2 GGUF.

Reference for ExportMergedGGUFTests.testLlamaCppGreedyEqualsOurs. The Swift test writes the merged GGUF (SmolLM2-135M
with a TinyLoRA adapter merged into every target weight, see ExportMergedGGUFTests.smolLM2) when run with
TINYLORA_WRITE_MERGED_GGUF=PATH; llama-cpp-python loads it (CPU) and decodes greedily (argmax of the last logits)
GENERATE tokens after the prompt TEXT (tokenized by llama.cpp without BOS; the ids are stored). The Swift test
checks our engine with the adapter attached produces exactly these tokens.

Usage (from this directory):
  TINYLORA_WRITE_MERGED_GGUF=/tmp/smollm2-merged-f32.gguf swift test -c release --filter ExportMergedGGUFTests
  /root/.cache/tinylora/venv-ref/bin/python check_merged_gguf_llamacpp.py /tmp/smollm2-merged-f32.gguf
With a second argument (a GGUF LoRA adapter written by LoRAExport.writeGGUF, kept by the Swift test when run with
TINYLORA_WRITE_LORA_GGUF=PATH) llama.cpp loads the first argument (the base SmolLM2 GGUF) with that LoRA applied
and the fixture is lora_gguf_llamacpp.json (checked by ExportMergedGGUFTests.testLlamaCppGreedyWithGGUFLoRAEqualsOurs):
  /root/.cache/tinylora/venv-ref/bin/python check_merged_gguf_llamacpp.py \
      ~/.cache/tinylora/models/SmolLM2-135M-Instruct.Q4_1.gguf /tmp/smollm2-lora.gguf
Qwen2.5-Coder-0.5B (QwenExportTests.testQwenLlamaCppGreedyOnMergedGGUFEqualsOurs; fixture
merged_gguf_llamacpp_qwen2.5-coder-0.5b.json):
  TINYLORA_WRITE_MERGED_GGUF_QWEN=/tmp/qwen-merged-f32.gguf swift test -c release \
      --filter QwenExportTests/testQwenLlamaCppGreedyOnMergedGGUFEqualsOurs
  /root/.cache/tinylora/venv-ref/bin/python check_merged_gguf_llamacpp.py /tmp/qwen-merged-f32.gguf \
      --fixture merged_gguf_llamacpp_qwen2.5-coder-0.5b.json
Versions used: llama-cpp-python 0.3.36.
"""
import argparse
import json
import os
import sys

import llama_cpp
import numpy as np

TEXT = "The capital of France is Paris. The capital of Germany is"
GENERATE = 16


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("gguf")
    ap.add_argument("lora", nargs="?")
    ap.add_argument("--fixture", help="fixture file name (default: by whether a LoRA is given)")
    a = ap.parse_args()
    lora = a.lora
    llm = llama_cpp.Llama(model_path=a.gguf, lora_path=lora, n_ctx=128, n_threads=2, verbose=False, logits_all=True)
    llm.reset()
    PROMPT = llm.tokenize(TEXT.encode(), add_bos=False, special=False)
    llm.eval(PROMPT)
    generated = []
    for _ in range(GENERATE):
        logits = np.array(llm.scores[llm.n_tokens - 1], dtype=np.float32)
        token = int(np.argmax(logits))
        generated.append(token)
        llm.eval([token])
    out = {"generator": f"llama-cpp-python {llama_cpp.__version__}", "text": TEXT, "prompt": PROMPT, "generated": generated}
    name = a.fixture or ("lora_gguf_llamacpp.json" if lora else "merged_gguf_llamacpp.json")
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), name)
    with open(path, "w") as f:
        json.dump(out, f)
        f.write("\n")
    print("wrote", path, generated, file=sys.stderr)


if __name__ == "__main__":
    main()
