"""The upstream servers of this gateway and the remote models they serve, with their health monitors.

Built once at start-up from the configuration: each upstream is asked for its models (``GET
/models``, which also gives vLLM's ``max_model_len`` and Causerie's ``context_length``); the models
it exposes are grouped by Causerie id, and each id with its replicas becomes one ``RemoteEngine``.
``start`` runs one health monitor per upstream on the running event loop, ``aclose`` stops them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

import httpx

from causerie.engine.remote import RemoteEngine
from causerie.engine.replicas import Replica
from causerie.engine.upstream import Upstream
from causerie.engine.upstream_config import DEFAULT_CONTEXT_LENGTH, ExposedModel, UpstreamConfig

log = logging.getLogger(__name__)


def _listed_context(item: dict[str, Any] | None) -> int | None:
    """The context window an upstream's model entry gives (vLLM: ``max_model_len``, Causerie: ``context_length``)."""
    for key in ("max_model_len", "context_length"):
        value = (item or {}).get(key)
        if isinstance(value, int) and value > 0:
            return value
    return None


class Fleet:
    def __init__(self, upstreams: Sequence[Upstream], engines: dict[str, RemoteEngine], problems: dict[str, str]):
        self.upstreams = list(upstreams)
        self.engines = engines
        """Causerie model id -> its engine, in the order the configuration names them."""
        self.problems = problems
        """``upstream:<name>`` -> why none of that upstream's models is served."""
        self._monitors: list[asyncio.Task[None]] = []

    @classmethod
    def connect(cls, configs: Sequence[UpstreamConfig]) -> Fleet:
        """Ask each upstream for its models (blocking; a few seconds at most for one that is down)."""
        upstreams = [Upstream(config) for config in configs]
        replicas: dict[str, list[Replica]] = {}
        problems: dict[str, str] = {}
        for upstream in upstreams:
            config = upstream.config
            try:
                listed: list[dict[str, Any]] | None = upstream.list_models()
            except (httpx.HTTPError, ValueError) as exc:
                listed = None
                if config.models is None:
                    problems[f"upstream:{upstream.label}"] = (
                        f"upstream {upstream.label} ({config.url}) cannot list its models ({exc!r}); "
                        "none of them is served until a restart, or name them in engines.toml"
                    )
                    continue
                log.warning("upstream %s cannot list its models now: %r", upstream.label, exc)
            known = {item["id"]: item for item in listed or []}
            exposed = config.models if config.models is not None else [ExposedModel(name=name) for name in known]
            for model in exposed:
                context = (
                    model.context_length
                    or config.context_length
                    or _listed_context(known.get(model.name))
                    or DEFAULT_CONTEXT_LENGTH
                )
                replicas.setdefault(model.causerie_id, []).append(Replica(upstream, model.name, context))
        engines = {model_id: RemoteEngine(model_id, group) for model_id, group in replicas.items()}
        return cls(upstreams, engines, problems)

    async def start(self) -> None:
        """Run the health monitors on this event loop (the app's lifespan); idempotent."""
        if not self._monitors:
            self._monitors = [
                asyncio.create_task(upstream.monitor(), name=f"health:{upstream.label}") for upstream in self.upstreams
            ]

    def health(self) -> dict[str, bool]:
        """Upstream name -> in service (for ``/health`` and the ``causerie:upstream_healthy`` gauge)."""
        return {upstream.label: upstream.healthy for upstream in self.upstreams}

    async def aclose(self) -> None:
        for task in self._monitors:
            task.cancel()
        await asyncio.gather(*self._monitors, return_exceptions=True)
        self._monitors = []
        for upstream in self.upstreams:
            await upstream.aclose()
