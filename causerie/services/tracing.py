"""OpenTelemetry traces: request → service → engine spans, exported over OTLP when configured.

``causerie.api.app`` gives each HTTP request its server span (OpenTelemetry's FastAPI
instrumentation); a service call made under it (``traced``: ``chat.completions``, ``completions``)
is its child, with the model, the language the reply must be in and the tokens spent; each generation
of the engine (``metered.MeteredEngine``: ``engine.generate``) is the child of that, with its tokens,
time in the queue and first token. Without ``CAUSERIE_OTLP_ENDPOINT`` the tracer is a no-op: nothing
is recorded, nothing is sent.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from typing import Any, Protocol, TypeVar

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, SERVICE_VERSION, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Tracer

from causerie import __version__
from causerie.config import Settings
from causerie.protocol.openai import LanguageReport, Usage

TRACES_PATH = "/v1/traces"
INSTRUMENTATION = "causerie"

F = TypeVar("F", bound=Callable[..., Any])


def exporting_provider(settings: Settings) -> TracerProvider | None:
    """A provider that batches spans to ``settings.otlp_endpoint`` (OTLP over HTTP); None when it is unset."""
    if not settings.otlp_endpoint:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    endpoint = settings.otlp_endpoint.rstrip("/")
    if not endpoint.endswith(TRACES_PATH):  # a collector's base URL, as OTEL_EXPORTER_OTLP_ENDPOINT takes it
        endpoint += TRACES_PATH
    named = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: "causerie"}
    provider = TracerProvider(resource=Resource.create({**named, SERVICE_VERSION: __version__}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return provider


def tracer_from(provider: trace.TracerProvider | None) -> Tracer:
    """The tracer Causerie's spans come from: a no-op one without a provider."""
    return (provider or trace.NoOpTracerProvider()).get_tracer(INSTRUMENTATION, __version__)


class _Traced(Protocol):
    @property
    def pool(self) -> Any: ...


def _request_attributes(prepared: Any) -> dict[str, Any]:
    attributes = {
        "gen_ai.request.model": prepared.request.model or prepared.model_id,
        "gen_ai.response.model": prepared.model_id,
        "causerie.choices": prepared.request.n,
        "causerie.stream": bool(prepared.request.stream),
    }
    plan = getattr(prepared, "language", None)
    if plan is not None:
        attributes["causerie.language"] = plan.expected
    return attributes


def record_reply(usage: Usage | None, language: LanguageReport | None = None) -> None:
    """Put what a reply spent (and what the language check found) on the current span, the service's."""
    span = trace.get_current_span()
    if usage is not None:
        span.set_attributes(
            {"gen_ai.usage.input_tokens": usage.prompt_tokens, "gen_ai.usage.output_tokens": usage.completion_tokens}
        )
    if language is not None:
        span.set_attributes(
            {
                "causerie.language": language.language,
                "causerie.language.detected": language.detected or "",
                "causerie.language.corrected": language.corrected or "",
            }
        )


def traced(name: str) -> Callable[[F], F]:
    """Run a service method ``(self, prepared)`` in a span named ``name``, the current span while it runs.

    A coroutine's result has its ``usage`` (and ``causerie`` language report) recorded; a stream
    records its own with ``record_reply`` before it ends.
    """

    def decorate(method: F) -> F:
        if inspect.isasyncgenfunction(method):

            @functools.wraps(method)
            async def stream(self: _Traced, prepared: Any) -> AsyncIterator[Any]:
                with self.pool.tracer.start_as_current_span(name, attributes=_request_attributes(prepared)):
                    async with aclosing(method(self, prepared)) as items:
                        async for item in items:
                            yield item

            return stream  # type: ignore[return-value]

        @functools.wraps(method)
        async def call(self: _Traced, prepared: Any) -> Any:
            with self.pool.tracer.start_as_current_span(name, attributes=_request_attributes(prepared)):
                result = await method(self, prepared)
                record_reply(result.usage, getattr(result, "causerie", None))
                return result

        return call  # type: ignore[return-value]

    return decorate
