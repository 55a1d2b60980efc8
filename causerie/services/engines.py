"""Loads engines on first use and keeps them for the life of the process.

A model is served for one capability: ``get`` gives a chat model's generating engine, ``embedder`` an
embedding model's; asking either for the other kind is the client's mistake (a 400 naming ``model``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import cast

from causerie.config import Settings
from causerie.engine.base import Engine
from causerie.engine.embedding import Embedder
from causerie.errors import InvalidRequest, ModelUnavailable
from causerie.models.registry import ModelRegistry, ModelSpec

log = logging.getLogger(__name__)


class EnginePool:
    def __init__(self, registry: ModelRegistry, settings: Settings) -> None:
        self.registry = registry
        self.settings = settings
        self._engines: dict[str, Engine | Embedder] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, spec: ModelSpec) -> Engine:
        """The generating engine for ``spec``, loading it (off the event loop) the first time."""
        if spec.capability != "chat":
            raise InvalidRequest(
                f"The model '{spec.id}' is an embedding model: it cannot generate text (use /v1/embeddings)",
                param="model",
                code="model_not_supported",
            )
        return cast(Engine, await self._loaded(spec))  # a spec's capability says which kind its loader makes

    async def embedder(self, spec: ModelSpec) -> Embedder:
        """The embedding engine for ``spec``, loading it the first time."""
        if spec.capability != "embedding":
            embedding = [s.id for s in self.registry.list() if s.capability == "embedding"]
            raise InvalidRequest(
                f"The model '{spec.id}' is a chat model: it cannot generate embeddings"
                f" (embedding models: {', '.join(embedding) or 'none'})",
                param="model",
                code="model_not_supported",
            )
        return cast(Embedder, await self._loaded(spec))

    def loaded(self) -> list[str]:
        return list(self._engines)

    async def _loaded(self, spec: ModelSpec) -> Engine | Embedder:
        if spec.id in self._engines:
            return self._engines[spec.id]
        async with self._locks.setdefault(spec.id, asyncio.Lock()):
            if spec.id not in self._engines:
                self._engines[spec.id] = await asyncio.to_thread(self._load, spec)
        return self._engines[spec.id]

    def _load(self, spec: ModelSpec) -> Engine | Embedder:
        if spec.factory is not None:
            return spec.factory(self.settings)
        assert spec.path is not None  # registry invariant: non-custom specs have a file
        log.info("loading model %s from %s", spec.id, spec.path)
        try:
            if spec.capability == "embedding":
                from causerie.engine.llamacpp_embedding import LlamaCppEmbedder

                return LlamaCppEmbedder(
                    spec.id, spec.path, context_length=spec.context_length or 512, threads=self.settings.threads
                )
            from causerie.engine.llamacpp import LlamaCppEngine

            return LlamaCppEngine(
                spec.id,
                spec.path,
                context_length=self.settings.context_length,
                parallel=self.settings.parallel,
                threads=self.settings.threads,
            )
        except (ValueError, OSError, RuntimeError) as exc:
            raise ModelUnavailable(f"cannot load model '{spec.id}' from {spec.path}: {exc}", param="model") from exc

    async def aclose(self) -> None:
        for engine in self._engines.values():
            await engine.aclose()
        self._engines.clear()
