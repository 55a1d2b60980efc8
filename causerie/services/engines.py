"""Loads engines on first use and keeps them for the life of the process, each behind its admission gate
and metrics (``MeteredEngine``); finds the model a principal asked for."""

from __future__ import annotations

import asyncio
import logging

from opentelemetry.trace import Tracer

from causerie.config import Settings
from causerie.engine.base import Engine
from causerie.errors import ModelUnavailable
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
        self._engines: dict[str, MeteredEngine] = {}
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
        """The engine for ``spec``, loading it (off the event loop) the first time.

        ``Overloaded`` (503) while the model's wait queue is full: services get their engine when they
        prepare a request, so a stream is refused before its first byte.
        """
        if spec.id not in self._engines:
            async with self._locks.setdefault(spec.id, asyncio.Lock()):
                if spec.id not in self._engines:
                    self._engines[spec.id] = self._metered(spec.id, await asyncio.to_thread(self._load, spec))
        engine = self._engines[spec.id]
        engine.gate.check()
        return engine

    def loaded(self) -> list[str]:
        return list(self._engines)

    def status(self) -> dict[str, dict[str, object]]:
        """Each loaded model's queue and cache (``/health``)."""
        return {model_id: engine.status() for model_id, engine in self._engines.items()}

    def _metered(self, model_id: str, engine: Engine) -> MeteredEngine:
        load = ModelLoad(self.metrics.model(model_id), self.settings.max_queued)
        return MeteredEngine(engine, load, self.tracer)

    def _load(self, spec: ModelSpec) -> Engine:
        if spec.factory is not None:
            return spec.factory(self.settings)
        from causerie.engine.llamacpp import LlamaCppEngine

        assert spec.path is not None  # registry invariant: non-custom specs have a file
        log.info("loading model %s from %s", spec.id, spec.path)
        try:
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
