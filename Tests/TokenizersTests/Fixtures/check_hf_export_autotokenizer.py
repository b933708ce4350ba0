#!/usr/bin/env python3
"""Writes hf_export_autotokenizer.json: transformers' AutoTokenizer on the Hugging Face tokenizer files we write
from each GGUF (Tokenizer.huggingFaceFiles(gguf:), the files `tinylora merge` puts in a merged HF directory).

For each model it loads DIR/<model> twice: with TokenizersBackend.from_pretrained (transformers' class that runs
tokenizer.json exactly as written; PreTrainedTokenizerFast is its alias) and with AutoTokenizer.from_pretrained. Each
encodes every corpus string and every random string of tokenizer_golden.json (add_special_tokens=False, so special
tokens written in the text are matched as tokens, like llama.cpp's special=True). Recorded per model:
  - tokenizer_json: the ids of TokenizersBackend as SHA-256 digests (corpus_ids_sha256, random_ids_sha256: each
    text's ids joined by ",", texts joined by "\n"; HuggingFaceExportTests computes the same digests from our own
    tokenizer loaded from the files) and mismatches_vs_llama_cpp (must be 0),
  - autotokenizer: the same for AutoTokenizer, plus the class it picked and its normalizer. transformers 5 forces
    its own Qwen2Tokenizer for model_type qwen2 whatever tokenizer_config.json says, and that class hard-codes an
    NFC normalizer (as Qwen's published tokenizer.json has); llama.cpp does not normalize. So for Qwen2.5 AutoTokenizer
    differs from llama.cpp exactly on the strings that NFC changes: nfc_explains_all_mismatches records that
    AutoTokenizer(text) == TokenizersBackend(NFC(text)) for every such string, and the Swift test checks the digest
    of our ids for NFC(text) against AutoTokenizer's,
  - chat_template_equal: whether AutoTokenizer's chat_template equals the GGUF's tokenizer.chat_template, and the ids
    of one rendered chat.
Exits non-zero when TokenizersBackend differs from llama.cpp anywhere, or AutoTokenizer does beyond NFC.

Usage: DIR/<model> is a merged Hugging Face directory that `tinylora merge` wrote from the GGUF (its config.json
matters: AutoTokenizer picks its class from model_type), e.g. with an all-zero adapter, merged as BF16 to save space:
  for m in smollm2-135m qwen2.5-coder-0.5b; do
    tinylora adapter init --model $m --out /tmp/$m.tla
    tinylora merge --model $m --adapter /tmp/$m.tla --out /tmp/hf-merged/$m --dtype bf16
  done
  /root/.cache/tinylora/venv-ref/bin/python check_hf_export_autotokenizer.py /tmp/hf-merged   # from this directory
(HuggingFaceExportTests writes the same tokenizer files, without config.json, when run with
TINYLORA_WRITE_HF_TOKENIZER=DIR.)
Versions used: transformers 5.23.0, tokenizers (recorded in the fixture).
"""
import hashlib
import json
import os
import sys
import unicodedata

import gguf
import tokenizers
import transformers
from transformers import AutoTokenizer, TokenizersBackend

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS_DIR = os.path.join(os.environ.get("TINYLORA_HOME", os.path.expanduser("~/.cache/tinylora")), "models")
MODELS = {"smollm2-135m": "SmolLM2-135M-Instruct.Q4_1.gguf", "qwen2.5-coder-0.5b": "Qwen2.5-Coder-0.5B-Instruct.gguf"}


def digest(ids):
    return hashlib.sha256("\n".join(",".join(str(i) for i in x) for x in ids).encode()).hexdigest()


def gguf_template(path):
    f = gguf.GGUFReader(path).fields["tokenizer.chat_template"]
    return bytes(f.parts[f.data[0]]).decode("utf-8")


def main():
    with open(os.path.join(HERE, "tokenizer_golden.json"), encoding="utf-8") as f:
        golden = json.load(f)
    texts = [bytes.fromhex(h).decode("utf-8") for h in golden["corpus_utf8_hex"]]
    randoms = [bytes.fromhex(h).decode("utf-8") for h in golden["random_utf8_hex"]]
    out = {"source": {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__}}
    failed = False
    for name, file_name in MODELS.items():
        path = os.path.join(sys.argv[1], name)
        want, rwant = golden["models"][name]["ids"], golden["models"][name + "/random"]["ids"]
        entry = {"corpus_strings": len(texts), "random_strings": len(randoms)}
        loaded = {"tokenizer_json": TokenizersBackend.from_pretrained(path), "autotokenizer": AutoTokenizer.from_pretrained(path)}
        for kind, tok in loaded.items():
            ids = [tok.encode(t, add_special_tokens=False) for t in texts]
            rids = [tok.encode(t, add_special_tokens=False) for t in randoms]
            bad = [i for i, (a, b) in enumerate(zip(ids, want)) if a != b]
            bad += [len(texts) + i for i, (a, b) in enumerate(zip(rids, rwant)) if a != b]
            normalizer = tok.backend_tokenizer.normalizer
            entry[kind] = {"class": type(tok).__name__, "normalizer": None if normalizer is None else str(normalizer),
                           "corpus_ids_sha256": digest(ids), "random_ids_sha256": digest(rids),
                           "mismatches_vs_llama_cpp": len(bad), "mismatch_indices": bad[:20]}
            if kind == "autotokenizer" and bad:
                as_written = loaded["tokenizer_json"]
                everything = texts + randoms
                entry[kind]["nfc_explains_all_mismatches"] = all(
                    unicodedata.normalize("NFC", everything[i]) != everything[i]
                    and (ids + rids)[i] == as_written.encode(unicodedata.normalize("NFC", everything[i]),
                                                             add_special_tokens=False)
                    for i in bad)
            print(name, kind, type(tok).__name__, "mismatches:", len(bad), file=sys.stderr)
        auto = loaded["autotokenizer"]
        chat = [{"role": "user", "content": "What is 12+30?"}]
        entry["chat_template_equal"] = auto.chat_template == gguf_template(os.path.join(MODELS_DIR, file_name))
        entry["chat_ids"] = auto.apply_chat_template(chat, add_generation_prompt=True, tokenize=True, return_dict=False)
        failed = failed or entry["tokenizer_json"]["mismatches_vs_llama_cpp"] > 0 or not entry["chat_template_equal"]
        failed = failed or (entry["autotokenizer"]["mismatches_vs_llama_cpp"] > 0
                            and not entry["autotokenizer"].get("nfc_explains_all_mismatches"))
        out[name] = entry
    with open(os.path.join(HERE, "hf_export_autotokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(out, f, ensure_ascii=False, indent=1)
        f.write("\n")
    if failed:
        sys.exit("FAILED: see the mismatches above")


if __name__ == "__main__":
    main()
