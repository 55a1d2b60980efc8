"""The engine as the services see it: every generation admitted, measured and traced.

``EnginePool`` wraps each engine it loads in a ``MeteredEngine``, so every path that generates
(chat, completions, conversations, translate, summarize, code) passes the model's wait-queue bound
(``admission``), feeds the Prometheus metrics (``metrics``) and gets an ``engine.generate`` span
below the service's. What the engine itself must report is in ``engine.observer``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import replace
from typing import Any, cast

from opentelemetry.trace import Span, Status, StatusCode, Tracer

from causerie.engine.base import (
    ChatEngine,
    ChatGenerationRequest,
    Engine,
    EngineCapabilities,
    GenerationEvent,
    GenerationFinish,
    GenerationRequest,
)
from causerie.engine.observer import CacheUsage, ReportsCache
from causerie.services.admission import Admission, ModelLoad


class MeteredEngine:
    """``engine`` behind its model's admission gate, with its metrics and spans; the rest is delegated."""

    def __init__(self, engine: Engine, load: ModelLoad, tracer: Tracer) -> None:
        self.inner = engine
        self.gate = load
        self.metrics = load.metrics
        self.tracer = tracer
        self.model_id: str = engine.model_id
        self.capabilities: EngineCapabilities = engine.capabilities

    @property
    def context_length(self) -> int:
        return self.inner.context_length

    @property
    def chat_template(self) -> str | None:
        return self.inner.chat_template

    @property
    def bos_token(self) -> str:
        return self.inner.bos_token

    @property
    def eos_token(self) -> str:
        return self.inner.eos_token

    def count_tokens(self, text: str, *, add_bos: bool = True) -> int:
        return self.inner.count_tokens(text, add_bos=add_bos)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def __getattr__(self, name: str) -> Any:
        """What the engine offers beyond the ``Engine`` protocol (a remote engine's token count, a fake's log)."""
        if name == "inner":  # not set yet (a copy being built)
            raise AttributeError(name)
        return getattr(self.inner, name)

    def cache_usage(self) -> CacheUsage | None:
        return self.inner.cache_usage() if isinstance(self.inner, ReportsCache) else None

    def status(self) -> dict[str, object]:
        """For ``/health``: the queue and the cache."""
        cache = self.cache_usage()
        status: dict[str, object] = {
            "running": self.gate.running,
            "waiting": self.gate.waiting,
            "max_queued": self.gate.max_queued,
        }
        if cache is not None:
            status["kv_cache"] = {
                "used_tokens": cache.used_tokens,
                "capacity_tokens": cache.capacity_tokens,
                "usage": round(cache.fraction, 4),
            }
        return status

    def generate(self, request: GenerationRequest) -> AsyncGenerator[GenerationEvent, None]:
        return self._measured(lambda admission: self.inner.generate(replace(request, observer=admission)))

    def chat(self, request: ChatGenerationRequest) -> AsyncGenerator[GenerationEvent, None]:
        """A chat-level engine's call (``capabilities.chat``: a remote engine), admitted and measured the same way."""
        return self._measured(lambda _admission: cast(ChatEngine, self.inner).chat(request))

    async def _measured(
        self, start: Callable[[Admission], AsyncGenerator[GenerationEvent, None]]
    ) -> AsyncGenerator[GenerationEvent, None]:
        admission = self.gate.admit()  # before any await: a burst cannot slip past the bound
        span = self.tracer.start_span("engine.generate", attributes={"gen_ai.request.model": self.model_id})
        reason: str | None = "abort"  # unless a finish arrives (or an error: counted as neither)
        last: float | None = None  # when the latest output came
        try:
            async with aclosing(start(admission)) as events:
                async for event in events:
                    now = time.monotonic()
                    if isinstance(event, GenerationFinish):
                        reason = event.reason
                        self._finished(event, span)
                    else:
                        admission.on_started()  # an engine that does not say so had started by its first output
                        if last is None:
                            self.metrics.time_to_first_token.observe(now - admission.admitted)
                            _note_start(admission, span)
                            span.add_event("first_token")
                            self._note_cache()
                        else:
                            self.metrics.inter_token_latency.observe(now - last)
                        last = now
                    yield event
        except Exception as exc:
            reason = None
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, type(exc).__name__))
            raise
        finally:
            self._ended(admission, reason, span, output=last is not None)

    def _finished(self, finish: GenerationFinish, span: Span) -> None:
        self.metrics.prompt_tokens.inc(finish.prompt_tokens)
        self.metrics.generation_tokens.inc(finish.completion_tokens)
        self.metrics.prefix_cache_queries.inc(finish.prompt_tokens)
        self.metrics.prefix_cache_hits.inc(finish.cached_tokens)
        span.set_attributes(
            {
                "gen_ai.usage.input_tokens": finish.prompt_tokens,
                "gen_ai.usage.output_tokens": finish.completion_tokens,
                "causerie.cached_tokens": finish.cached_tokens,
            }
        )

    def _ended(self, admission: Admission, reason: str | None, span: Span, *, output: bool) -> None:
        seconds = self.gate.ended(admission)
        if reason is not None:
            self.metrics.request_success(reason).inc()
            span.set_attribute("gen_ai.response.finish_reasons", [reason])
        if reason in ("stop", "length"):
            self.metrics.e2e_request_latency.observe(seconds)
        if not output:  # else noted at the first output
            _note_start(admission, span)
        self._note_cache()
        span.end()

    def _note_cache(self) -> None:
        cache = self.cache_usage()
        if cache is not None:
            self.metrics.kv_cache_usage_perc.set(cache.fraction)


def _note_start(admission: Admission, span: Span) -> None:
    """The span's ``started`` event (when the engine gave capacity) and the time spent in the queue."""
    if admission.started is not None:
        span.add_event("started", timestamp=_epoch_ns(admission.started))
        span.set_attribute("causerie.queue_seconds", admission.started - admission.admitted)


def _epoch_ns(monotonic: float) -> int:
    """A ``time.monotonic()`` instant as the nanoseconds since the epoch that spans use."""
    return time.time_ns() - int((time.monotonic() - monotonic) * 1e9)
