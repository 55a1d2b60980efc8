"""A deterministic embedder for tests: word-sized tokens, vectors that are a known function of them.

A word's id is a stable hash of it; a vector is the normalized sum of one fixed pseudo-random vector per
token id, so a text and its token ids embed identically and equal inputs give equal vectors.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

FAKE_BOS, FAKE_EOS = 1, 2
_FIRST_WORD = 3


class FakeEmbedder:
    def __init__(
        self, model_id: str = "fake-embed", *, dimensions: int = 16, context_length: int = 32, vocab_size: int = 1000
    ) -> None:
        self.model_id = model_id
        self._dimensions = dimensions
        self._context = context_length
        self._vocab = vocab_size
        self.batches: list[list[list[int]]] = []
        """Every ``embed`` call's inputs, in order."""
        self.closed = False

    @property
    def dimensions(self) -> int:
        return self._dimensions

    @property
    def context_length(self) -> int:
        return self._context

    @property
    def vocab_size(self) -> int:
        return self._vocab

    def token_id(self, word: str) -> int:
        return _FIRST_WORD + zlib.crc32(word.encode("utf-8")) % (self._vocab - _FIRST_WORD)

    def tokenize(self, text: str) -> list[int]:
        return [FAKE_BOS, *(self.token_id(word) for word in text.split()), FAKE_EOS]

    def with_specials(self, tokens: Sequence[int]) -> list[int]:
        wrapped = list(tokens)
        if not wrapped or wrapped[0] != FAKE_BOS:
            wrapped.insert(0, FAKE_BOS)
        if wrapped[-1] != FAKE_EOS:
            wrapped.append(FAKE_EOS)
        return wrapped

    def vector(self, tokens: Sequence[int]) -> np.ndarray:
        """The normalized vector of one input (what ``embed`` returns for it)."""
        total = np.sum([np.random.default_rng(token).standard_normal(self._dimensions) for token in tokens], axis=0)
        return np.asarray(total / np.linalg.norm(total), dtype=np.float32)

    async def embed(self, inputs: Sequence[Sequence[int]]) -> np.ndarray:
        self.batches.append([list(tokens) for tokens in inputs])
        return np.stack([self.vector(tokens) for tokens in inputs])

    async def aclose(self) -> None:
        self.closed = True
