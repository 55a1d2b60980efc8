"""Loads engines on first use and keeps them for the life of the process, finds the model a principal
asked for, runs the upstreams' health checks.

A model is served for one capability: ``get`` gives a chat model's generating engine (behind its admission
gate and metrics, ``MeteredEngine``), ``embedder`` an embedding model's; asking either for the other kind is
the client's mistake (a 400 naming ``model``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import cast

from opentelemetry.trace import Tracer

from causerie.config import Settings
from causerie.engine.base import Engine
from causerie.engine.embedding import Embedder
from causerie.errors import InvalidRequest, ModelUnavailable
from causerie.models.registry import ModelRegistry, ModelSpec
from causerie.principal import Principal
from causerie.services.admission import ModelLoad
from causerie.services.metered import MeteredEngine
from causerie.services.metrics import Metrics
from causerie.services.model_access import ModelAccess

log = logging.getLogger(__name__)


class EnginePool:
    def __init__(
        self, registry: ModelRegistry, settings: Settings, access: ModelAccess, metrics: Metrics, tracer: Tracer
    ) -> None:
        self.registry = registry
        self.settings = settings
        self.access = access
        self.metrics = metrics
        self.tracer = tracer
        """The services' spans come from it too."""
        self._engines: dict[str, MeteredEngine | Embedder] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def models(self, principal: Principal) -> list[ModelSpec]:
        """The models ``principal`` may use (``ModelAccess``), in registration order."""
        return self.registry.list(self.access.allowed(principal))

    def model(self, model_id: str, principal: Principal) -> ModelSpec:
        """``model_id`` if ``principal`` may use it; else ``ModelNotFound``, as for a model that does not exist."""
        return self.registry.get(model_id, self.access.allowed(principal))

    def resolve(self, model_id: str | None, principal: Principal, *, language: str | None = None) -> ModelSpec:
        """The model a request of ``principal`` names (None: the default; ``auto``: by ``language``), among
        the ones it may use: every model lookup of the services goes through here."""
        return self.registry.resolve(model_id, language=language, allowed=self.access.allowed(principal))

    async def get(self, spec: ModelSpec) -> Engine:
        """The generating engine for ``spec``, loading it (off the event loop) the first time.

        ``Overloaded`` (503) while the model's wait queue is full: services get their engine when they
        prepare a request, so a stream is refused before its first byte.
        """
        if spec.capability != "chat":
            raise InvalidRequest(
                f"The model '{spec.id}' is an embedding model: it cannot generate text (use /v1/embeddings)",
                param="model",
                code="model_not_supported",
            )
        engine = cast(MeteredEngine, await self._loaded(spec))  # a spec's capability says which kind it is
        engine.gate.check()
        return engine

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

    async def start(self) -> None:
        """Start the upstreams' health monitors on this event loop (the server's lifespan)."""
        if self.registry.fleet is not None:
            await self.registry.fleet.start()

    def upstream_health(self) -> dict[str, bool]:
        """Upstream name -> in service; empty without upstreams."""
        return self.registry.fleet.health() if self.registry.fleet is not None else {}

    def status(self) -> dict[str, dict[str, object]]:
        """Each loaded chat model's queue and cache (``/health``)."""
        return {
            model_id: engine.status() for model_id, engine in self._engines.items() if isinstance(engine, MeteredEngine)
        }

    async def _loaded(self, spec: ModelSpec) -> MeteredEngine | Embedder:
        if spec.id not in self._engines:
            async with self._locks.setdefault(spec.id, asyncio.Lock()):
                if spec.id not in self._engines:
                    loaded = await asyncio.to_thread(self._load, spec)
                    self._engines[spec.id] = (
                        self._metered(spec.id, cast(Engine, loaded))
                        if spec.capability == "chat"
                        else cast(Embedder, loaded)
                    )
        return self._engines[spec.id]

    def _metered(self, model_id: str, engine: Engine) -> MeteredEngine:
        load = ModelLoad(self.metrics.model(model_id), self.settings.max_queued)
        return MeteredEngine(engine, load, self.tracer)

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
        if self.registry.fleet is not None:
            await self.registry.fleet.aclose()
