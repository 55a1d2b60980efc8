"""Embeddings: texts or token ids in, one vector each out, in OpenAI's shapes."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Sequence

import numpy as np

from causerie.engine.embedding import Embedder
from causerie.errors import ContextLengthExceeded, InvalidRequest
from causerie.models.registry import ModelSpec
from causerie.principal import Principal
from causerie.protocol.embeddings import Embedding, EmbeddingInput, EmbeddingList, EmbeddingRequest, EmbeddingUsage
from causerie.services.engines import EnginePool


class EmbeddingService:
    def __init__(self, pool: EnginePool) -> None:
        self._pool = pool

    async def create(self, request: EmbeddingRequest, principal: Principal) -> EmbeddingList:
        """The vectors, from a model ``principal`` may use."""
        spec = self._pool.model(request.model, principal)
        embedder = await self._pool.embedder(spec)
        dimensions = _dimensions(spec, embedder, request.dimensions)
        inputs = await asyncio.to_thread(token_inputs, embedder, request.input)
        _check(embedder, inputs)
        vectors = await embedder.embed(inputs)
        if dimensions < embedder.dimensions:  # a Matryoshka model's leading dimensions, renormalized
            vectors = vectors[:, :dimensions]
            vectors = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        data = [Embedding(index=i, embedding=_encode(v, request.encoding_format)) for i, v in enumerate(vectors)]
        tokens = sum(len(item) for item in inputs)
        return EmbeddingList(data=data, model=spec.id, usage=EmbeddingUsage(prompt_tokens=tokens, total_tokens=tokens))


def token_inputs(embedder: Embedder, value: EmbeddingInput) -> list[list[int]]:
    """Each input's tokens with the model's special tokens: texts tokenized, token ids wrapped."""
    if isinstance(value, str):
        return [embedder.tokenize(value)]
    if isinstance(value[0], str):
        return [embedder.tokenize(text) for text in value if isinstance(text, str)]
    if isinstance(value[0], int):
        return [embedder.with_specials([token for token in value if isinstance(token, int)])]
    return [embedder.with_specials(tokens) for tokens in value if isinstance(tokens, list)]


def _dimensions(spec: ModelSpec, embedder: Embedder, asked: int | None) -> int:
    native = embedder.dimensions
    if asked is None or asked == native:
        return native
    if spec.matryoshka and asked < native:
        return asked
    reason = f"at most {native}" if spec.matryoshka else f"only its own {native}: it is not a Matryoshka model"
    raise InvalidRequest(f"The model '{spec.id}' supports 'dimensions' {reason}", param="dimensions")


def _check(embedder: Embedder, inputs: Sequence[Sequence[int]]) -> None:
    limit, vocab = embedder.context_length, embedder.vocab_size
    for index, tokens in enumerate(inputs):
        if len(tokens) > limit:
            raise ContextLengthExceeded(
                f"This model's maximum context length is {limit} tokens, however input {index} has"
                f" {len(tokens)} tokens (special tokens included). Please reduce the length of the input.",
                param="input",
            )
        unknown = next((token for token in tokens if token >= vocab), None)
        if unknown is not None:
            raise InvalidRequest(
                f"Input {index} has the token id {unknown}, outside the model's vocabulary of {vocab} tokens",
                param="input",
            )


def _encode(vector: np.ndarray, encoding_format: str) -> list[float] | str:
    if encoding_format == "base64":  # float32, little-endian: what the openai SDK decodes
        return base64.b64encode(vector.astype("<f4").tobytes()).decode("ascii")
    return [float(x) for x in vector]
