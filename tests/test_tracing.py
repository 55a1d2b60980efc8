"""Traces: request → service → engine spans with model, tokens and language (the SDK's in-memory exporter),
sent over OTLP when ``CAUSERIE_OTLP_ENDPOINT`` is set, nothing without it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from causerie.config import Settings
from causerie.engine.fake import FakeEngine
from causerie.models.registry import ModelRegistry
from causerie.services.container import Container
from causerie.services.tracing import exporting_provider
from tests.conftest import client_for, fake_spec, free_port, live_server

FRENCH = [{"role": "user", "content": "Bonjour, peux-tu m'expliquer comment les plantes fabriquent leur nourriture ?"}]
REPLY = "Les plantes utilisent la lumière du soleil pour transformer l'eau et le gaz carbonique en sucre."


@pytest.fixture
def traced_server(tmp_path) -> Iterator[tuple[str, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    engine = FakeEngine(reply=lambda request: REPLY)
    registry = ModelRegistry([fake_spec(engine)])
    with live_server(Settings(data_dir=tmp_path), registry, tracer_provider=provider) as url:
        yield url, exporter


def finished(exporter: InMemorySpanExporter, count: int) -> list[ReadableSpan]:
    """The spans once ``count`` have ended (the request's own ends just after its last byte is sent)."""
    deadline = time.monotonic() + 10
    while len(exporter.get_finished_spans()) < count:
        assert time.monotonic() < deadline, [span.name for span in exporter.get_finished_spans()]
        time.sleep(0.02)
    return list(exporter.get_finished_spans())


def chain(spans: list[ReadableSpan]) -> tuple[ReadableSpan, ReadableSpan, ReadableSpan]:
    """(request, service, engine), checked to be one trace, each the parent of the next."""
    by_name = {span.name: span for span in spans}
    request = next(span for span in spans if span.name.startswith("POST "))
    service = next(span for span in spans if span.name in ("chat.completions", "completions"))
    engine = by_name["engine.generate"]
    assert request.parent is None
    assert service.parent is not None and service.parent.span_id == request.context.span_id
    assert engine.parent is not None and engine.parent.span_id == service.context.span_id
    assert request.context.trace_id == service.context.trace_id == engine.context.trace_id
    return request, service, engine


@pytest.mark.parametrize("stream", [False, True])
def test_chat_spans_nest_with_model_tokens_and_language(traced_server, stream):
    url, exporter = traced_server
    client = client_for(url)
    if stream:
        chunks = list(
            client.chat.completions.create(
                model="fake", messages=FRENCH, stream=True, stream_options={"include_usage": True}
            )
        )
        usage = chunks[-1].usage
    else:
        usage = client.chat.completions.create(model="fake", messages=FRENCH).usage
    request, service, engine = chain(finished(exporter, 3))
    assert request.name == "POST /v1/chat/completions"
    assert (request.attributes["http.route"], request.attributes["http.status_code"]) == ("/v1/chat/completions", 200)
    assert service.name == "chat.completions"
    assert service.attributes["gen_ai.request.model"] == service.attributes["gen_ai.response.model"] == "fake"
    assert service.attributes["causerie.stream"] is stream
    assert service.attributes["causerie.language"] == "fr"
    assert service.attributes["causerie.language.detected"] == "fr"
    assert service.attributes["gen_ai.usage.input_tokens"] == usage.prompt_tokens
    assert service.attributes["gen_ai.usage.output_tokens"] == usage.completion_tokens
    assert engine.attributes["gen_ai.request.model"] == "fake"
    assert engine.attributes["gen_ai.usage.input_tokens"] == usage.prompt_tokens
    assert engine.attributes["gen_ai.usage.output_tokens"] == usage.completion_tokens
    assert engine.attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert [event.name for event in engine.events] == ["started", "first_token"]
    assert engine.attributes["causerie.queue_seconds"] >= 0


def test_text_completion_spans(traced_server):
    url, exporter = traced_server
    result = client_for(url).completions.create(model="fake", prompt="Il était une fois", max_tokens=3)
    request, service, engine = chain(finished(exporter, 3))
    assert (request.name, service.name) == ("POST /v1/completions", "completions")
    assert engine.attributes["gen_ai.usage.output_tokens"] == result.usage.completion_tokens == 3
    assert engine.attributes["gen_ai.response.finish_reasons"] == ("length",)


class _Collector(BaseHTTPRequestHandler):
    received: list[tuple[str, bytes]]

    def do_POST(self) -> None:
        self.received.append((self.path, self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_spans_go_to_the_otlp_endpoint(tmp_path):
    received: list[tuple[str, bytes]] = []
    handler = type("Collector", (_Collector,), {"received": received})
    collector = HTTPServer(("127.0.0.1", free_port()), handler)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    try:
        settings = Settings(data_dir=tmp_path, otlp_endpoint=f"http://127.0.0.1:{collector.server_port}")
        engine = FakeEngine(reply=lambda request: "ok")
        with live_server(settings, ModelRegistry([fake_spec(engine)])) as url:
            assert httpx.post(url + "/v1/chat/completions", json={"messages": FRENCH}).status_code == 200
        # the server's shutdown sent what was batched
    finally:
        collector.shutdown()
    assert received and {path for path, _ in received} == {"/v1/traces"}
    names = set()
    for _, body in received:
        export = ExportTraceServiceRequest.FromString(body)
        for resource_spans in export.resource_spans:
            service_name = {a.key: a.value.string_value for a in resource_spans.resource.attributes}["service.name"]
            assert service_name == "causerie"
            names |= {span.name for scope in resource_spans.scope_spans for span in scope.spans}
    assert {"POST /v1/chat/completions", "chat.completions", "engine.generate"} <= names


def test_no_endpoint_no_traces(tmp_path):
    settings = Settings(data_dir=tmp_path)
    assert settings.otlp_endpoint is None and exporting_provider(settings) is None
    container = Container(settings, ModelRegistry([fake_spec(FakeEngine())]))
    assert not container.pool.tracer.start_span("anything").is_recording()
