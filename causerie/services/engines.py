"""Loads engines on first use and keeps them for the life of the process; runs the upstreams' health checks."""

from __future__ import annotations

import asyncio
import logging

from causerie.config import Settings
from causerie.engine.base import Engine
from causerie.errors import ModelUnavailable
from causerie.models.registry import ModelRegistry, ModelSpec

log = logging.getLogger(__name__)


class EnginePool:
    def __init__(self, registry: ModelRegistry, settings: Settings) -> None:
        self.registry = registry
        self.settings = settings
        self._engines: dict[str, Engine] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def get(self, spec: ModelSpec) -> Engine:
        """The engine for ``spec``, loading it (off the event loop) the first time."""
        if spec.id in self._engines:
            return self._engines[spec.id]
        async with self._locks.setdefault(spec.id, asyncio.Lock()):
            if spec.id not in self._engines:
                self._engines[spec.id] = await asyncio.to_thread(self._load, spec)
        return self._engines[spec.id]

    def loaded(self) -> list[str]:
        return list(self._engines)

    async def start(self) -> None:
        """Start the upstreams' health monitors on this event loop (the server's lifespan)."""
        if self.registry.fleet is not None:
            await self.registry.fleet.start()

    def upstream_health(self) -> dict[str, bool]:
        """Upstream name -> in service; empty without upstreams."""
        return self.registry.fleet.health() if self.registry.fleet is not None else {}

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
        if self.registry.fleet is not None:
            await self.registry.fleet.aclose()
