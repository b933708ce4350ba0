#!/usr/bin/env python3
"""Writes safetensors_multi.safetensors (+ safetensors_multi.json) with the reference `safetensors` package.

Run: /root/.cache/tinylora/venv-ref/bin/python Tests/ModelFilesTests/Fixtures/make_safetensors_fixture.py

The file holds tensors of many dtypes (names chosen to exercise the writer's dtype-then-name ordering) and a
one-key __metadata__ map (one key, because the Rust writer emits a multi-key map in hash order). The JSON lists
each tensor's dtype, shape and, for float dtypes, its values as float32 bit patterns. The Swift tests read the
file and rebuild it with SafetensorsWriter, which must reproduce it byte for byte.
"""
import json
import os

import numpy as np
import torch
from safetensors.torch import save_file

here = os.path.dirname(os.path.abspath(__file__))
g = torch.Generator().manual_seed(7)
tensors = {
    "model.layers.0.weight": torch.randn(3, 4, generator=g),                       # F32
    "b.half": torch.randn(5, generator=g).to(torch.float16),                       # F16
    "a.bf16": torch.randn(2, 3, generator=g).to(torch.bfloat16),                   # BF16
    "z.double": torch.randn(2, generator=g).to(torch.float64),                     # F64
    "ids": torch.tensor([[1, -2, 3]], dtype=torch.int64),                          # I64
    "mask": torch.tensor([True, False, True]),                                     # BOOL
    "bytes": torch.tensor([0, 7, 255], dtype=torch.uint8),                         # U8
    "small": torch.tensor([-128, 5], dtype=torch.int8),                            # I8
    "counts": torch.tensor([1, 2], dtype=torch.int32),                             # I32
    "scalar": torch.tensor(2.5),                                                   # F32, shape []
    "empty": torch.zeros(0, 3),                                                    # F32, zero elements
    "fp8": torch.tensor([0.5, -1.0]).to(torch.float8_e4m3fn),                      # F8_E4M3
}
path = os.path.join(here, "safetensors_multi.safetensors")
save_file(tensors, path, metadata={"format": "pt"})

info = {}
for name, t in tensors.items():
    entry = {"shape": list(t.shape)}
    if t.dtype in (torch.float32, torch.float16, torch.bfloat16, torch.float64):
        entry["values_bits"] = [int(v) for v in t.to(torch.float32).numpy().reshape(-1).view(np.uint32)]
    info[name] = entry
with open(os.path.join(here, "safetensors_multi.json"), "w") as f:
    json.dump({"metadata": {"format": "pt"}, "tensors": info}, f, indent=1, sort_keys=True)
    f.write("\n")
print("wrote", path, os.path.getsize(path), "bytes")
