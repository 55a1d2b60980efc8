"""llama.cpp's embedding mode in this process: one context, pooling as the GGUF says (mean, CLS, last).

Several inputs share one decode (one sequence id each) as long as they fit the batch; every forward pass
runs on the one compute thread the generating engines use (see ``causerie.engine.llamacpp``).
"""

from __future__ import annotations

import asyncio
import os
import unicodedata
from collections.abc import Sequence
from pathlib import Path

import llama_cpp
import numpy as np
from llama_cpp import Llama

from causerie.engine.llamacpp import _COMPUTE


class LlamaCppEmbedder:
    """A GGUF embedding model served by llama.cpp."""

    def __init__(self, model_id: str, path: Path, *, context_length: int, threads: int | None = None) -> None:
        """``context_length``: the model's training context (the GGUF's), which one input may fill."""
        self.model_id = model_id
        n_threads = threads or os.cpu_count() or 1
        # A non-causal model (BERT) must see a whole input in one micro-batch: batch = micro-batch = context.
        self._llm = Llama(
            model_path=str(path),
            embedding=True,
            n_ctx=context_length,
            n_batch=context_length,
            n_ubatch=context_length,
            n_threads=n_threads,
            n_threads_batch=n_threads,
            verbose=False,
        )
        if int(self._llm.pooling_type()) == llama_cpp.LLAMA_POOLING_TYPE_NONE:
            self._llm.close()
            raise ValueError("the GGUF has no pooling type: it gives token vectors, not one vector per input")
        meta = self._llm.metadata
        self._nfkc = meta.get("tokenizer.ggml.model") == "t5" and "tokenizer.ggml.precompiled_charsmap" not in meta
        """A unigram (SentencePiece) vocabulary without its normalizer: apply the NFKC it stands for."""
        self._context = context_length
        self._lock = asyncio.Lock()

    @property
    def dimensions(self) -> int:
        return self._llm.n_embd()

    @property
    def context_length(self) -> int:
        return self._context

    @property
    def vocab_size(self) -> int:
        return self._llm.n_vocab()

    def tokenize(self, text: str) -> list[int]:
        if self._nfkc:
            text = unicodedata.normalize("NFKC", text)
        return self._llm.tokenize(text.encode("utf-8"), add_bos=True, special=False)

    def with_specials(self, tokens: Sequence[int]) -> list[int]:
        model = self._llm._model
        wrapped = list(tokens)
        if model.add_bos_token() and (not wrapped or wrapped[0] != model.token_bos()):
            wrapped.insert(0, model.token_bos())
        if model.add_eos_token() and wrapped[-1] != model.token_eos():
            wrapped.append(model.token_eos())
        return wrapped

    async def embed(self, inputs: Sequence[Sequence[int]]) -> np.ndarray:
        async with self._lock:  # one batch in the context at a time
            future = _COMPUTE.submit(self._embed, inputs)
            return await asyncio.wrap_future(future)

    async def aclose(self) -> None:
        self._llm.close()

    def _embed(self, inputs: Sequence[Sequence[int]]) -> np.ndarray:
        llm, out = self._llm, np.empty((len(inputs), self.dimensions), dtype=np.float32)
        n_seq_max = llm.context_params.n_seq_max
        pending: list[int] = []
        used = 0
        for index, tokens in enumerate(inputs):
            if len(tokens) > self._context:
                raise ValueError(f"input {index} has {len(tokens)} tokens; the context holds {self._context}")
            if pending and (used + len(tokens) > self._context or len(pending) >= n_seq_max):
                self._decode(pending, out)
                pending, used = [], 0
            llm._batch.add_sequence(list(tokens), len(pending), True)
            pending.append(index)
            used += len(tokens)
        if pending:
            self._decode(pending, out)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms > 0, norms, 1)

    def _decode(self, indices: list[int], out: np.ndarray) -> None:
        llm = self._llm
        llm._ctx.kv_cache_clear()
        try:
            llm._ctx.decode(llm._batch)
        finally:
            llm._batch.reset()
        for seq, index in enumerate(indices):
            pointer = llama_cpp.llama_get_embeddings_seq(llm._ctx.ctx, seq)
            out[index] = np.ctypeslib.as_array(pointer, shape=(self.dimensions,))
