"""A scripted OpenAI-compatible upstream (Starlette on loopback) and a gateway over upstreams.

The script says what the upstream does next: answer, fail with a 500, cut its stream after two
pieces, list its models or not, count tokens (vLLM's ``/tokenize``) or not. Every request body it
receives is kept, so tests see exactly what the gateway sent.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from causerie.config import Settings
from causerie.engine.fake import fake_tokens
from causerie.engine.fleet import Fleet
from causerie.engine.upstream_config import upstream_configs
from causerie.models.registry import ModelRegistry
from tests.conftest import live_asgi, live_server

REMOTE_MODEL = "remote-model"


@dataclass
class Script:
    reply: str = "Hello from the upstream."
    mode: Literal["ok", "fail", "cut"] = "ok"
    listing: bool = True
    tokenize: bool = True
    usage: bool = True
    tool_call: tuple[str, str] | None = None
    """(name, arguments) of a tool call to make after the text."""
    delay: float = 0.0
    bodies: list[dict[str, Any]] = field(default_factory=list)


def _sse(payload: dict[str, Any]) -> str:
    return f"data: {json.dumps(payload)}\n\n"


def _chunk(delta: dict[str, Any], finish: str | None = None) -> str:
    return _sse({"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})


def fake_upstream(script: Script, *, model: str = REMOTE_MODEL, context_length: int = 1024) -> Starlette:
    async def models(_: Request) -> Response:
        if not script.listing:
            return JSONResponse({"error": {"message": "down"}}, status_code=503)
        return JSONResponse({"object": "list", "data": [{"id": model, "max_model_len": context_length}]})

    async def tokenize(request: Request) -> Response:
        body = await request.json()
        if not script.tokenize:
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        if "messages" in body:
            text = " ".join(str(m.get("content") or "") for m in body["messages"])
            extra = 3 * len(body["messages"])
        elif "prompt" in body:
            text, extra = body["prompt"], 0
        else:
            return JSONResponse({"detail": "prompt or messages required"}, status_code=422)
        count = len(fake_tokens(text)) + extra
        return JSONResponse({"count": count, "tokens": list(range(count)), "max_model_len": context_length})

    async def chat(request: Request) -> Response:
        body = await request.json()
        script.bodies.append(body)
        if script.mode == "fail":
            return JSONResponse({"error": {"message": "boom", "type": "server_error"}}, status_code=500)
        return StreamingResponse(_events(), media_type="text/event-stream")

    async def _events() -> AsyncIterator[str]:
        pieces = fake_tokens(script.reply)
        yield _chunk({"role": "assistant", "content": ""})
        for index, piece in enumerate(pieces):
            if script.mode == "cut" and index == 2:
                raise RuntimeError("the upstream dies mid-stream (on purpose)")
            await asyncio.sleep(script.delay)
            yield _chunk({"content": piece})
        if script.tool_call is not None:
            name, arguments = script.tool_call
            half = len(arguments) // 2
            call = {"index": 0, "id": "call_up", "type": "function", "function": {"name": name, "arguments": ""}}
            yield _chunk({"tool_calls": [call]})
            for part in (arguments[:half], arguments[half:]):
                yield _chunk({"tool_calls": [{"index": 0, "function": {"arguments": part}}]})
        yield _chunk({}, "tool_calls" if script.tool_call else "stop")
        if script.usage:
            usage = {"prompt_tokens": 11, "completion_tokens": len(pieces), "total_tokens": 11 + len(pieces)}
            yield _sse({"object": "chat.completion.chunk", "choices": [], "usage": usage})
        yield "data: [DONE]\n\n"

    return Starlette(
        routes=[
            Route("/v1/models", models),
            Route("/tokenize", tokenize, methods=["POST"]),
            Route("/v1/chat/completions", chat, methods=["POST"]),
        ]
    )


@contextmanager
def upstream(script: Script, **kwargs: Any) -> Iterator[str]:
    """A fake upstream on loopback; yields its OpenAI base URL (``…/v1``)."""
    with live_asgi(fake_upstream(script, **kwargs)) as url:
        yield url + "/v1"


def gateway_registry(settings: Settings) -> ModelRegistry:
    """Only the upstreams' models (no embedded model): what ``discover`` adds for ``settings``' upstreams."""
    registry = ModelRegistry()
    registry.add_fleet(Fleet.connect(upstream_configs(settings)))
    return registry


def engines_toml(path: Path, urls: list[str], *, health_interval: float = 0.2, **model: Any) -> Path:
    """An engines.toml with one ``[[upstream]]`` per URL, each exposing ``remote-model``."""
    lines = []
    for index, url in enumerate(urls):
        lines += ["[[upstream]]", f'name = "up{index}"', f'url = "{url}"', f"health_interval = {health_interval}"]
        lines += ["[[upstream.models]]", f'name = "{REMOTE_MODEL}"']
        lines += [f"{key} = {json.dumps(value)}" for key, value in model.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@contextmanager
def gateway(settings: Settings) -> Iterator[tuple[str, ModelRegistry]]:
    """A Causerie serving only the upstreams of ``settings``; yields (base URL, registry)."""
    registry = gateway_registry(settings)
    with live_server(settings, registry) as url:
        yield url, registry
