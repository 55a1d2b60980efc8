"""The embedding contract: token sequences in, one unit-length vector per sequence out.

An embedder is the other kind of engine: it never generates. Callers tokenize texts with it (its
tokenizer adds the model's own special tokens), or bring token ids of its vocabulary and wrap them
with ``with_specials``, then await ``embed``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Embedder(Protocol):
    """One loaded embedding model."""

    model_id: str

    @property
    def dimensions(self) -> int:
        """The length of its vectors."""
        ...

    @property
    def context_length(self) -> int:
        """Tokens one input can hold, special tokens included."""
        ...

    @property
    def vocab_size(self) -> int: ...

    def tokenize(self, text: str) -> list[int]:
        """``text``'s tokens with the model's special tokens (CPU-bound: call it off the event loop)."""
        ...

    def with_specials(self, tokens: Sequence[int]) -> list[int]:
        """Content token ids wrapped as ``tokenize`` wraps a text's (a given BOS or EOS is kept, not doubled)."""
        ...

    async def embed(self, inputs: Sequence[Sequence[int]]) -> np.ndarray:
        """An ``(len(inputs), dimensions)`` float32 array of L2-normalized vectors, pooled as the model says."""
        ...

    async def aclose(self) -> None: ...
