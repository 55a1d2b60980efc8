"""Models served by upstream servers (``--upstream``, ``engines.toml``): one spec per remote model id."""

from __future__ import annotations

import time
from collections.abc import Callable

from causerie.config import Settings
from causerie.engine.base import Engine
from causerie.engine.fleet import Fleet
from causerie.engine.upstream_config import upstream_configs
from causerie.models.spec import ModelSpec


def connect_fleet(settings: Settings) -> Fleet | None:
    """The fleet of the configured upstreams (asking each for its models), or None when there are none."""
    configs = upstream_configs(settings)
    return Fleet.connect(configs) if configs else None


def _returning(engine: Engine) -> Callable[[Settings], Engine]:
    return lambda settings: engine


def upstream_specs(fleet: Fleet) -> list[ModelSpec]:
    created = int(time.time())
    return [
        ModelSpec(
            id=model_id,
            path=None,
            source="upstream",
            created=created,
            description=f"served by {', '.join(f'{r.upstream.label} ({r.model})' for r in engine.replicas)}",
            context_length=engine.context_length,
            factory=_returning(engine),
            engine=engine.engine_label,
        )
        for model_id, engine in fleet.engines.items()
    ]
