"""Several sequences decoded together through llama-cpp-python's low-level API (its high-level sampling takes seconds
per token over a 151,936-token vocabulary here). Shared by bench.py (the llama.cpp generate rows) and
llamacpp_eval.py (issue 6's portability check)."""
import ctypes

import numpy as np
import llama_cpp as lc


@lc.llama_log_callback
def _quiet(level, text, user_data):
    pass


class BatchDecoder:
    """A model and a context holding up to `sequences` sequences in `n_ctx` cache cells, with `threads` threads.

    submit(entries) runs one llama_decode over (token, position, sequence, wants_logits) entries; argmax(i) is the
    greedy token of the i-th logits row of the last submit; prefill(sequence, tokens) submits a prompt in chunks of
    n_batch and returns its greedy next token. Failures end the process with a message naming them."""

    def __init__(self, path, n_ctx, sequences, threads, n_batch=512, quiet=False):
        if quiet:
            lc.llama_log_set(_quiet, ctypes.c_void_p())
        lc.llama_backend_init()
        self.model = lc.llama_model_load_from_file(path.encode(), lc.llama_model_default_params())
        if not self.model:
            raise SystemExit(f"llama.cpp could not load {path}")
        self.vocab = lc.llama_model_get_vocab(self.model)
        self.n_vocab = lc.llama_vocab_n_tokens(self.vocab)
        self.n_batch = n_batch
        cparams = lc.llama_context_default_params()
        cparams.n_ctx = n_ctx
        cparams.n_batch = n_batch
        cparams.n_ubatch = n_batch
        cparams.n_seq_max = sequences
        cparams.n_threads = threads
        cparams.n_threads_batch = threads
        self.ctx = lc.llama_init_from_model(self.model, cparams)
        if not self.ctx:
            raise SystemExit("llama.cpp could not create a context")
        self.batch = lc.llama_batch_init(max(n_batch, sequences), 0, 1)

    def submit(self, entries):
        b = self.batch
        for i, (tok, pos, seq, logits) in enumerate(entries):
            b.token[i] = tok
            b.pos[i] = pos
            b.n_seq_id[i] = 1
            b.seq_id[i][0] = seq
            b.logits[i] = 1 if logits else 0
        b.n_tokens = len(entries)
        rc = lc.llama_decode(self.ctx, b)
        if rc != 0:
            raise SystemExit(f"llama_decode failed with {rc}")

    def argmax(self, i):
        return int(np.ctypeslib.as_array(lc.llama_get_logits_ith(self.ctx, i), shape=(self.n_vocab,)).argmax())

    def prefill(self, sequence, tokens):
        for start in range(0, len(tokens), self.n_batch):
            chunk = tokens[start:start + self.n_batch]
            last = start + len(chunk) == len(tokens)
            self.submit([(t, start + j, sequence, last and j == len(chunk) - 1) for j, t in enumerate(chunk)])
        return self.argmax(len(chunk) - 1)

    def clear(self):
        lc.llama_memory_clear(lc.llama_get_memory(self.ctx), True)

    def is_end(self, token):
        return lc.llama_vocab_is_eog(self.vocab, token)

    def piece(self, token):
        buf = (ctypes.c_char * 256)()
        n = lc.llama_token_to_piece(self.vocab, token, buf, len(buf), 0, True)
        return bytes(buf[:n]) if n > 0 else b""

    def close(self):
        lc.llama_batch_free(self.batch)
        lc.llama_free(self.ctx)
        lc.llama_model_free(self.model)
