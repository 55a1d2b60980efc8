"""What an engine reports while it works, for metrics, traces and admission control above it.

The layer above (``services.metered``) sees a request's stream of events, so it measures the time to
the first token, the gaps between tokens, the end and the tokens spent by itself. Two things only the
engine knows, and it reports them through this module:

- ``RequestObserver.on_started``: the moment a request leaves the engine's wait queue and gets
  capacity (a sequence slot, a place in the batch, a request sent upstream). Called once per request,
  from any thread; it must return at once. ``GenerationRequest.observer`` carries it.
- ``ReportsCache.cache_usage``: how full the engine's KV cache is (optional; engines without a cache
  of their own, like a remote one, leave it out).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


class RequestObserver(Protocol):
    def on_started(self) -> None:
        """The request left the wait queue: its prompt is being processed now."""
        ...


class _Unobserved:
    def on_started(self) -> None:
        pass


UNOBSERVED: RequestObserver = _Unobserved()
"""The observer of a request nobody watches."""


@dataclass(frozen=True)
class CacheUsage:
    used_tokens: int
    """Tokens held in the KV cache now (running sequences and what is kept for prefix reuse)."""
    capacity_tokens: int

    @property
    def fraction(self) -> float:
        return self.used_tokens / self.capacity_tokens if self.capacity_tokens else 0.0


@runtime_checkable
class ReportsCache(Protocol):
    def cache_usage(self) -> CacheUsage:
        """The KV cache's fill now; cheap, callable from any thread."""
        ...
