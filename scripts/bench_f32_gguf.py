#!/usr/bin/env python3
"""Writes an all-F32 copy of a GGUF file, so llama.cpp can be benchmarked at the precision our fp32 engine runs at.

Every tensor is read with the `gguf` package's reader; quantized and F16/BF16 tensors are dequantized to float32
(`gguf.quants.dequantize`, the same block formulas llama.cpp uses), F32 tensors are copied. All metadata key-values
are copied in order except `general.file_type`, which is set to 0 (ALL_F32). A tensor stored as GGUF dims
[in, out] (innermost first) is a numpy array [out, in]; the writer stores it with the same dims. The values are the
shipped file's dequantized weights, i.e. exactly what our engine and transformers compute with.

Usage: bench_f32_gguf.py SOURCE.gguf DEST.gguf   (writes DEST.gguf.partial, then renames it: atomic)
"""
import os
import sys

import numpy as np
import gguf


def convert(source, dest):
    reader = gguf.GGUFReader(source, "r")
    arch = reader.fields[gguf.Keys.General.ARCHITECTURE].contents()
    partial = dest + ".partial"
    writer = gguf.GGUFWriter(partial, arch)
    for field in reader.fields.values():
        # The writer sets general.architecture itself; GGUF.* are the reader's header pseudo-fields.
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue
        if field.name == gguf.Keys.General.FILE_TYPE:
            writer.add_key_value(field.name, int(gguf.LlamaFileType.ALL_F32), gguf.GGUFValueType.UINT32)
            continue
        value_type = field.types[0]
        sub_type = field.types[-1] if value_type == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), value_type, sub_type=sub_type)
    if gguf.Keys.General.FILE_TYPE not in reader.fields:
        writer.add_key_value(gguf.Keys.General.FILE_TYPE, int(gguf.LlamaFileType.ALL_F32), gguf.GGUFValueType.UINT32)
    alignment = reader.fields.get(gguf.Keys.General.ALIGNMENT)
    if alignment is not None:
        writer.data_alignment = int(alignment.contents())
    for t in reader.tensors:
        if t.tensor_type == gguf.GGMLQuantizationType.F32:
            values = np.asarray(t.data, dtype=np.float32)
        else:
            values = gguf.quants.dequantize(t.data, t.tensor_type).astype(np.float32, copy=False)
        shape = [int(d) for d in reversed(t.shape)]  # numpy order: outermost first
        values = values.reshape(shape)
        writer.add_tensor(t.name, values, raw_dtype=gguf.GGMLQuantizationType.F32)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(partial, dest)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    convert(sys.argv[1], sys.argv[2])
