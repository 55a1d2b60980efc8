"""The HTTP edge, over the fake engine: body limit, cancellation on disconnect, authentication before
routing, OpenAI-shaped routing errors, the OpenAPI schema of streams, and the one error envelope."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.routing import iter_route_contexts
from pydantic import ValidationError
from starlette.routing import Mount
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from causerie.api.app import create_app
from causerie.cli.errors import BackendError, raise_for_event, response_error
from causerie.config import Settings
from causerie.errors import RequestTooLarge
from causerie.protocol.openai import ChatCompletionRequest, ErrorResponse
from tests.conftest import client_for, idle_load

USER = [{"role": "user", "content": "Bonjour"}]
KEY = "sesame"


def _error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code and error["type"] and error["message"], error
    return error


def _raw_response(sock: socket.socket) -> tuple[str, bytes]:
    """(status line and headers, body) of one HTTP/1.1 response with a Content-Length."""

    def more() -> bytes:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection before answering"
        return chunk

    data = b""
    while b"\r\n\r\n" not in data:
        data += more()
    head, _, body = data.partition(b"\r\n\r\n")
    declared = re.search(rb"(?i)content-length: (\d+)", head)
    assert declared, head
    while len(body) < int(declared.group(1)):
        body += more()
    return head.decode(), body


# -- body limit ---------------------------------------------------------------------------------


def test_a_body_over_the_limit_is_413_before_it_is_read(serve_fake, tmp_path):
    url, engine = serve_fake(Settings(data_dir=tmp_path, max_request_bytes=4096))
    address = urlsplit(url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000000\r\n\r\n"  # announced, never sent: the answer cannot wait for it
        )
        head, body = _raw_response(sock)
    assert head.startswith("HTTP/1.1 413")
    error = json.loads(body)["error"]
    assert error["type"] == "invalid_request_error" and error["code"] == "request_too_large"
    assert "4096 bytes" in error["message"] and engine.requests == []


def test_a_chunked_body_over_the_limit_is_413_and_never_reaches_the_engine(serve_fake, tmp_path):
    url, engine = serve_fake(Settings(data_dir=tmp_path, max_request_bytes=4096))
    text = json.dumps({"model": "fake", "messages": [{"role": "user", "content": "x" * 10_000}]}).encode()

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server counts what arrives
        for start in range(0, len(text), 1000):
            yield text[start : start + 1000]

    response = httpx.post(url + "/v1/chat/completions", content=chunks(), headers={"content-type": "application/json"})
    _error(response, 413, "request_too_large")
    assert engine.requests == []


def test_a_chunked_body_under_the_limit_is_served(serve_fake, tmp_path):
    url, _ = serve_fake(Settings(data_dir=tmp_path, max_request_bytes=4096), reply=lambda r: "ok")
    text = json.dumps({"model": "fake", "messages": USER}).encode()
    response = httpx.post(
        url + "/v1/chat/completions", content=iter([text[:10], text[10:]]), headers={"content-type": "application/json"}
    )
    assert response.status_code == 200 and response.json()["choices"][0]["message"]["content"] == "ok"


def test_an_upload_has_its_own_limit_above_the_json_one(serve_fake, tmp_path):
    """A corpus upload bigger than any JSON body is accepted; past the upload limit it is a 413 too."""
    url, _ = serve_fake(Settings(data_dir=tmp_path, max_request_bytes=4096, max_upload_bytes=64 * 1024))
    text = ("Le village garde ses traditions. " * 1000).encode()  # 33 KB: over the JSON limit, under the upload one
    accepted = httpx.post(url + "/v1/localize/corpora", data={"name": "village"}, files={"files": ("a.txt", text)})
    assert accepted.status_code == 201, accepted.text
    too_big = httpx.post(url + "/v1/localize/corpora", data={"name": "big"}, files={"files": ("b.txt", text * 3)})
    assert "CAUSERIE_MAX_UPLOAD_BYTES" in _error(too_big, 413, "request_too_large")["message"]
    json_body = httpx.post(
        url + "/v1/chat/completions", json={"model": "fake", "messages": [{"role": "user", "content": "x" * 8000}]}
    )
    assert "CAUSERIE_MAX_REQUEST_BYTES" in _error(json_body, 413, "request_too_large")["message"]


def test_the_default_limit_admits_the_longest_document_and_refuses_much_more():
    limit = Settings().max_request_bytes
    assert limit == 8 * 1024 * 1024
    longest = json.dumps({"text": "word " * 400_000, "target_language": "fr"})  # 2,000,000 characters
    assert len(longest.encode()) < limit < 10_000_000  # the 10 MB message of issue 8 is refused


def test_health_answers_during_a_big_allowed_upload(serve_fake):
    """The body is received by the event loop chunk by chunk: a slow 6 MB upload holds nothing up.

    (Only the upload is timed: the fake engine tokenizes with a regex that holds the GIL, unlike
    llama.cpp; ``test_reliability_engine`` times /health during a real tokenization.)"""
    url, _ = serve_fake(reply=lambda r: "ok")
    text = json.dumps({"model": "fake", "messages": [{"role": "user", "content": "mot " * 1_500_000}]}).encode()
    uploading, uploaded, answered = threading.Event(), threading.Event(), []

    def slow_upload() -> Iterator[bytes]:
        for start in range(0, len(text), 1 << 19):  # 6 MB, 512 KiB every 0.15 s
            uploading.set()
            time.sleep(0.15)
            yield text[start : start + (1 << 19)]
        uploaded.set()

    def big_request() -> None:
        response = httpx.post(
            url + "/v1/chat/completions",
            content=slow_upload(),
            headers={"content-type": "application/json"},
            timeout=120,
        )
        answered.append(response.status_code)

    sender = threading.Thread(target=big_request)
    sender.start()
    assert uploading.wait(30)
    latencies = []
    while not uploaded.is_set():
        start = time.monotonic()
        assert httpx.get(url + "/health", timeout=30).status_code == 200
        if not uploaded.is_set():  # answered while the body was still arriving
            latencies.append(time.monotonic() - start)
    sender.join(120)
    assert answered == [400]  # far over the fake's context, but within the body limit: the model saw it
    assert len(latencies) >= 3 and max(latencies) < 1.0, latencies


# -- cancellation on disconnect -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", {"model": "fake", "messages": USER}),
        ("/v1/completions", {"model": "fake", "prompt": "Once", "max_tokens": 2000}),
        ("/v1/code/fix", {"model": "fake", "code": "def f():\n    return 1\n", "tests": "assert f() == 2"}),
    ],
)
def test_a_disconnected_non_streamed_request_frees_its_slot(serve_fake, path, body):
    url, engine = serve_fake(reply=lambda r: "tok " * 1000, parallel=1, delay=0.01)  # 10 s of work
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(url + path, json=body, timeout=0.5)  # the client gives up and closes the connection
    assert idle_load(engine, seconds=5) == (0, 0)  # the engine stopped: its only slot is free again
    result = client_for(url).chat.completions.create(model="fake", messages=USER, max_tokens=2)
    assert result.choices[0].message.content == "tok tok"
    assert time.monotonic() - started < 6  # served at once, not after the abandoned 10 s


def test_a_disconnected_non_streamed_conversation_reply_stops_and_is_kept(serve_fake):
    url, engine = serve_fake(reply=lambda r: "tok " * 1000, parallel=1, delay=0.01)
    conversation = httpx.post(url + "/v1/conversations", json={}).json()["id"]
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            url + f"/v1/conversations/{conversation}/messages", json={"content": "hi", "stream": False}, timeout=1
        )
    assert idle_load(engine, seconds=5) == (0, 0)
    deadline = time.monotonic() + 5
    while (messages := httpx.get(url + f"/v1/conversations/{conversation}").json()["messages"])[-1][
        "status"
    ] != "incomplete":
        assert time.monotonic() < deadline, messages[-1]
        time.sleep(0.05)
    assert messages[-1]["role"] == "assistant" and 0 < len(messages[-1]["content"]) < len("tok " * 1000)


def test_a_request_answered_in_full_is_not_cancelled(serve_fake):
    url, engine = serve_fake(reply=lambda r: "un deux trois", delay=0.01)
    response = httpx.post(url + "/v1/chat/completions", json={"model": "fake", "messages": USER})
    assert response.json()["choices"][0]["message"]["content"] == "un deux trois"
    assert idle_load(engine) == (0, 0)


# -- routing: authentication first, OpenAI-shaped errors, no redirects --------------------------


def test_unknown_v1_path_without_key_is_401(serve_fake, tmp_path):
    url, _ = serve_fake(Settings(data_dir=tmp_path, api_keys=[KEY]))
    _error(httpx.get(url + "/v1/nothing-here"), 401, "invalid_api_key")
    _error(httpx.post(url + "/v1/nothing-here", headers={"Authorization": "Bearer wrong"}), 401, "invalid_api_key")
    known = _error(httpx.get(url + "/v1/nothing-here", headers={"Authorization": f"Bearer {KEY}"}), 404, "not_found")
    assert known["message"] == "Invalid URL (GET /v1/nothing-here)"


def test_trailing_slash_does_not_redirect(serve_fake):
    url, _ = serve_fake()
    for path in ("/v1/conversations/", "/v1/chat/completions/", "/health/"):
        response = httpx.request("POST" if "chat" in path else "GET", url + path, follow_redirects=False)
        _error(response, 404, "not_found")
    assert httpx.get(url + "/v1/conversations", follow_redirects=False).status_code == 200


def test_unknown_route_and_wrong_method_answer_openai_errors(serve_fake):
    url, _ = serve_fake()
    missing = _error(httpx.get(url + "/nope"), 404, "not_found")
    assert missing["type"] == "invalid_request_error" and missing["param"] is None
    wrong = httpx.get(url + "/v1/chat/completions")
    _error(wrong, 405, "method_not_allowed")
    assert wrong.headers["allow"] == "POST"


PUBLIC = {("GET", "/"), ("GET", "/health"), ("GET", "/web/{path}"), ("POST", "/v1/auth/sign-in")}
"""The only routes answered without a key when keys are configured (the web UI asks for one itself, or
signs in: checking a password is what that route is for)."""


def _routes(routes: list, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(method, path template) of every route, mounted sub-apps included."""
    for route in iter_route_contexts(routes):  # FastAPI's own walk, into included routers
        mount = route.original_route
        if isinstance(mount, Mount):
            inner = getattr(mount.app, "routes", None)
            if inner is None:  # an ASGI app (static files): any path under it
                yield "GET", prefix + mount.path + "/{path}"
            else:
                yield from _routes(inner, prefix + mount.path)
        else:
            for method in sorted(route.methods or {"GET"}):
                yield method, prefix + str(route.path)


def test_every_route_but_the_public_ones_needs_a_key(serve_fake, tmp_path):
    """A new route (or mounted app) that is reachable without a key fails here."""
    settings = Settings(data_dir=tmp_path, api_keys=[KEY])
    url, _ = serve_fake(settings)
    table = set(_routes(create_app(settings).routes))
    assert table >= PUBLIC and len(table) > 20
    for method, template in sorted(table):
        path = re.sub(r"\{[^}]+\}", "web.js" if template.startswith("/web/") else "x", template)
        response = httpx.request(method, url + path, follow_redirects=False)
        if (method, template) in PUBLIC:
            assert response.status_code != 401, (method, path)
        elif method != "HEAD":
            _error(response, 401, "invalid_api_key")
        else:
            assert response.status_code == 401, (method, path)


def test_a_websocket_without_key_is_closed_before_routing(tmp_path):
    client = TestClient(create_app(Settings(data_dir=tmp_path, api_keys=[KEY])))  # no lifespan: nothing is loaded
    with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect("/v1/anything"):
        pass
    assert closed.value.code == 1008 and "API key" in closed.value.reason


# -- the OpenAPI schema agrees with behaviour ---------------------------------------------------


def _streaming_operations(schema: dict) -> dict[str, dict]:
    """Operations whose JSON request body has a ``stream`` property."""
    components = schema["components"]["schemas"]
    found = {}
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            refs = [body.get("$ref")] + [part.get("$ref") for part in body.get("anyOf", [])]
            for ref in filter(None, refs):
                if "stream" in components[ref.rsplit("/", 1)[1]].get("properties", {}):
                    found[f"{method.upper()} {path}"] = operation
    return found


def test_sse_routes_declare_text_event_stream(tmp_path):
    schema = create_app(Settings(data_dir=tmp_path)).openapi()
    streaming = _streaming_operations(schema)
    assert {
        "POST /v1/chat/completions",
        "POST /v1/completions",
        "POST /v1/translate",
        "POST /v1/summarize",
        "POST /v1/conversations/{conversation_id}/messages",
        "POST /v1/conversations/{conversation_id}/messages/{message_id}/regenerate",
    } <= set(streaming)
    for name, operation in streaming.items():
        content = operation["responses"]["200"]["content"]
        assert "application/json" in content, name  # the answer without stream
        event = content["text/event-stream"]["schema"]  # one event, as schemathesis checks each
        assert event["type"] == "object" and event["required"] == ["data"], name
        assert event["properties"]["data"]["type"] == "string", name
    undeclared = [
        f"{method} {path}"
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if "text/event-stream" in operation["responses"].get("200", {}).get("content", {})
        and f"{method.upper()} {path}" not in streaming
    ]
    assert undeclared == []


def test_every_api_route_documents_the_errors_of_the_edge(tmp_path):
    schema = create_app(Settings(data_dir=tmp_path)).openapi()
    api = {path: operations for path, operations in schema["paths"].items() if path.startswith("/v1/")}
    assert len(api) > 15
    for path, operations in api.items():
        for method, operation in operations.items():
            for status in ("401", "413"):
                ref = operation["responses"][status]["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/ErrorResponse"), (method, path, status)
            assert "422" not in operation["responses"], (method, path)  # validation errors are 400s


# -- one validation style, one envelope ---------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"top_logprobs": 2}, "top_logprobs"),
        ({"stream_options": {"include_usage": True}}, "stream_options"),
        ({"tool_choice": "required"}, "tool_choice"),
        ({"tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice"),
        ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"response_format": {"type": "json_schema"}}, "response_format"),
    ],
)
def test_request_models_refuse_with_a_validation_error_naming_the_field(fields, param):
    """The CLI builds the same models: it gets pydantic's located error, not an HTTP-specific one."""
    with pytest.raises(ValidationError) as caught:
        ChatCompletionRequest(messages=USER, **fields)
    assert ".".join(map(str, caught.value.errors()[0]["loc"])) == param


def test_cross_field_errors_are_400_naming_the_parameter(serve_fake):
    url, _ = serve_fake()
    response = httpx.post(url + "/v1/chat/completions", json={"messages": USER, "top_logprobs": 2})
    error = _error(response, 400, "invalid_value")
    assert error["param"] == "top_logprobs" and "requires logprobs" in error["message"]


def test_the_cli_reads_back_the_envelope_the_server_builds():
    built = ErrorResponse.of(RequestTooLarge("too big")).model_dump()
    assert built == {
        "error": {"message": "too big", "type": "invalid_request_error", "param": None, "code": "request_too_large"}
    }
    response = httpx.Response(413, json=built)
    assert response_error(response).message == "too big"
    assert response_error(httpx.Response(502, text="<html>")).message == "the server answered 502 Bad Gateway"
    with pytest.raises(BackendError, match="too big"):
        raise_for_event(built)
    with pytest.raises(BackendError, match="too big"):
        raise_for_event({"type": "error", **built})  # a conversation's error event
    raise_for_event({"type": "delta", "content": "hi"})  # not an error: nothing raised
