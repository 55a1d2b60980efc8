"""A model served by OpenAI-compatible upstream servers (vLLM, SGLang, llama-server, another Causerie).

Chats go to the upstream's ``/chat/completions`` (its template, tools and ``response_format``);
raw prompts to its ``/completions``. Replies always stream from the upstream. Each request goes to
one replica (``replicas.choose``); a replica that cannot be reached, answers 5xx, 404 or 429, or
breaks its stream before the first token, is left for the next one. A stream cut after its first
token ends with ``UpstreamFailed`` (the caller keeps what came). No replica left: ``UpstreamUnavailable``
(503 with ``Retry-After``) at once.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, NoReturn

import httpx
from httpx_sse import SSEError, aconnect_sse

from causerie.engine.base import (
    ChatGenerationRequest,
    EngineCapabilities,
    GeneratedToolCall,
    GenerationChunk,
    GenerationEvent,
    GenerationFinish,
    GenerationRequest,
    JsonObject,
    SamplingParams,
    TokenLogprob,
    TopLogprob,
)
from causerie.engine.replicas import Replica, choose
from causerie.engine.upstream import Upstream, estimate_tokens
from causerie.errors import InvalidRequest, UpstreamFailed, UpstreamUnavailable

log = logging.getLogger(__name__)

_RETRYABLE_STATUS = {404, 408, 429}
"""Besides 5xx: statuses another replica may not answer (model missing there, timeout, overloaded)."""
_PER_MESSAGE_TOKENS = 8
"""Estimated template tokens around each message (role markers, separators) when the upstream cannot count."""


class UpstreamStreamError(Exception):
    """The upstream's stream itself says it failed (an error event, a missing end)."""


class _TryAnother(Exception):
    """This replica failed before the reply started; ``down`` when the server itself looks broken."""

    def __init__(self, reason: str, *, down: bool) -> None:
        super().__init__(reason)
        self.down = down


@dataclass
class _Reply:
    """What one upstream stream produced, folded as it comes."""

    parts: list[str] = field(default_factory=list)
    reason: str | None = None
    calls: dict[int, dict[str, str]] = field(default_factory=dict)
    usage: dict[str, Any] | None = None

    def add_calls(self, deltas: list[dict[str, Any]]) -> None:
        for delta in deltas:
            call = self.calls.setdefault(delta.get("index", 0), {"id": "", "name": "", "arguments": ""})
            call["id"] = delta.get("id") or call["id"]
            function = delta.get("function") or {}
            call["name"] += function.get("name") or ""
            call["arguments"] += function.get("arguments") or ""


def _sampling(params: SamplingParams, *, chat: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "max_tokens": params.max_tokens,
        "temperature": params.temperature,
        "top_p": params.top_p,
        "presence_penalty": params.presence_penalty,
        "frequency_penalty": params.frequency_penalty,
        "seed": params.seed,
        "stop": list(params.stop) or None,
    }
    if params.logprobs is not None:
        body.update({"logprobs": True, "top_logprobs": params.logprobs} if chat else {"logprobs": params.logprobs})
    return {key: value for key, value in body.items() if value is not None}


def _token_bytes(item: dict[str, Any]) -> tuple[int, ...]:
    return tuple(item.get("bytes") or str(item.get("token", "")).encode())


def _chat_logprobs(choice: dict[str, Any]) -> tuple[TokenLogprob, ...]:
    content = (choice.get("logprobs") or {}).get("content") or []
    return tuple(
        TokenLogprob(
            item["token"],
            item["logprob"],
            _token_bytes(item),
            tuple(TopLogprob(t["token"], t["logprob"], _token_bytes(t)) for t in item.get("top_logprobs") or []),
        )
        for item in content
    )


def _text_logprobs(choice: dict[str, Any]) -> tuple[TokenLogprob, ...]:
    lp = choice.get("logprobs") or {}
    tokens = lp.get("tokens") or []
    tops = lp.get("top_logprobs") or [{} for _ in tokens]
    return tuple(
        TokenLogprob(
            token,
            logprob or 0.0,
            tuple(token.encode()),
            tuple(TopLogprob(t, v, tuple(t.encode())) for t, v in (top or {}).items()),
        )
        for token, logprob, top in zip(tokens, lp.get("token_logprobs") or [], tops, strict=False)
    )


def _error_message(response: httpx.Response) -> str:
    try:
        payload = response.json()
    except ValueError:
        return response.text[:300] or response.reason_phrase
    error = payload.get("error", payload) if isinstance(payload, dict) else payload
    message = error.get("message") or error.get("detail") if isinstance(error, dict) else None
    return str(message or payload)[:300]


Chunk = dict[str, Any]
Fold = Callable[[Chunk, _Reply], GenerationChunk | None]
"""Reads one upstream chunk into the reply; returns what to yield (content, log-probabilities) if anything."""


def _fold_chat(chunk: Chunk, reply: _Reply) -> GenerationChunk | None:
    choice = (chunk.get("choices") or [{}])[0]
    delta = choice.get("delta") or {}
    reply.reason = choice.get("finish_reason") or reply.reason
    if delta.get("tool_calls"):
        reply.add_calls(delta["tool_calls"])
    logprobs = _chat_logprobs(choice)
    text = delta.get("content") or ""
    return GenerationChunk(text, logprobs) if text or logprobs else None


def _fold_text(chunk: Chunk, reply: _Reply) -> GenerationChunk | None:
    choice = (chunk.get("choices") or [{}])[0]
    reply.reason = choice.get("finish_reason") or reply.reason
    logprobs = _text_logprobs(choice)
    text = choice.get("text") or ""
    return GenerationChunk(text, logprobs) if text or logprobs else None


class RemoteEngine:
    """One Causerie model id over its replicas (one per upstream that serves it)."""

    capabilities = EngineCapabilities(grammar=False, logprobs=True, seed=True, chat=True)

    def __init__(self, model_id: str, replicas: Sequence[Replica]) -> None:
        if not replicas:
            raise ValueError(f"model {model_id!r} needs at least one replica")
        self.model_id = model_id
        self.replicas = list(replicas)

    @property
    def context_length(self) -> int:
        return min(replica.context_length for replica in self.replicas)

    @property
    def chat_template(self) -> str | None:
        return None  # the upstream applies its own

    @property
    def bos_token(self) -> str:
        return ""

    @property
    def eos_token(self) -> str:
        return ""

    @property
    def engine_label(self) -> str:
        """Where the model runs, for ``/v1/models``: ``upstream:gpu-a,gpu-b``."""
        return "upstream:" + ",".join(replica.upstream.label for replica in self.replicas)

    # -- token counts (blocking; callers use a worker thread) -----------------------------------

    def _counter(self) -> Replica:
        return choose(self.replicas, None) or self.replicas[0]

    def count_tokens(self, text: str, *, add_bos: bool = True) -> int:
        replica = self._counter()
        counted = replica.upstream.count_tokens(replica.model, text, add_special=add_bos)
        return counted if counted is not None else estimate_tokens(text)

    def count_chat_tokens(self, messages: tuple[JsonObject, ...], tools: tuple[JsonObject, ...] = ()) -> int:
        replica = self._counter()
        if not tools:
            exact = replica.upstream.count_chat_tokens(replica.model, [dict(m) for m in messages])
            if exact is not None:
                return exact
        pieces = [str(m.get("content") or "") + str(m.get("tool_calls") or "") for m in messages]
        text = "\n".join(pieces) + (repr(list(tools)) if tools else "")
        return self.count_tokens(text) + _PER_MESSAGE_TOKENS * (len(messages) + 1)

    # -- generation --------------------------------------------------------------------------------

    def chat(self, request: ChatGenerationRequest) -> AsyncGenerator[GenerationEvent, None]:
        body: dict[str, Any] = {"messages": [dict(m) for m in request.messages], **_sampling(request.params, chat=True)}
        if request.tools:
            body["tools"] = [dict(tool) for tool in request.tools]
        if request.tool_choice is not None:
            body["tool_choice"] = request.tool_choice
        if request.response_format is not None:
            body["response_format"] = dict(request.response_format)
        return self._generate(
            "chat/completions",
            body,
            _fold_chat,
            request.affinity,
            lambda: self.count_chat_tokens(request.messages, request.tools),
        )

    def generate(self, request: GenerationRequest) -> AsyncGenerator[GenerationEvent, None]:
        body = {"prompt": request.prompt, **_sampling(request.params, chat=False)}
        return self._generate(
            "completions", body, _fold_text, request.affinity, lambda: self.count_tokens(request.prompt)
        )

    async def _generate(
        self,
        path: str,
        body: dict[str, Any],
        fold: Fold,
        affinity: str | None,
        count_prompt: Callable[[], int],
    ) -> AsyncGenerator[GenerationEvent, None]:
        if affinity is not None:
            body = {**body, "user": affinity}  # an upstream Causerie keeps the affinity to its own replicas
        tried: list[Upstream] = []
        reasons: list[str] = []
        while (replica := choose(self.replicas, affinity, tried)) is not None:
            tried.append(replica.upstream)
            reply = _Reply()
            request = {**body, "model": replica.model, "stream": True, "stream_options": {"include_usage": True}}
            try:
                async with aclosing(self._attempt(replica, path, request, fold, reply)) as chunks:
                    async for chunk in chunks:
                        yield chunk
            except _TryAnother as retry:
                reasons.append(f"{replica.upstream.label}: {retry}")
                if retry.down:
                    replica.upstream.mark_down(str(retry))
                continue
            yield await self._finish(reply, count_prompt)
            return
        raise UpstreamUnavailable(
            f"No upstream can serve the model '{self.model_id}' now"
            + (f" ({'; '.join(reasons)})" if reasons else ": every replica is out of service")
            + ". Try again shortly.",
            retry_after=self._retry_after(),
            param="model",
        )

    async def _attempt(
        self, replica: Replica, path: str, body: dict[str, Any], fold: Fold, reply: _Reply
    ) -> AsyncGenerator[GenerationChunk, None]:
        """One replica's stream; ``_TryAnother`` while nothing has been yielded, ``UpstreamFailed`` after."""
        upstream = replica.upstream
        upstream.outstanding += 1
        upstream.last_progress = time.monotonic()
        started = False
        try:
            async with aconnect_sse(upstream.http, "POST", path, json=body) as source:
                response = source.response
                if response.status_code != 200:
                    await response.aread()
                    self._refused(response)
                async for event in source.aiter_sse():
                    if event.data.strip() == "[DONE]":
                        break
                    upstream.last_progress = time.monotonic()
                    chunk = event.json()
                    if isinstance(chunk, dict) and "error" in chunk:
                        raise UpstreamStreamError(_error_message(httpx.Response(500, json=chunk)))
                    reply.usage = chunk.get("usage") or reply.usage
                    piece = fold(chunk, reply)
                    if piece is not None:
                        started = True
                        reply.parts.append(piece.text)
                        yield piece
                else:
                    raise UpstreamStreamError("the stream ended without [DONE]")
            upstream.served += 1
            upstream.mark_up()
        except (httpx.HTTPError, SSEError, ValueError, UpstreamStreamError) as exc:  # unreachable, cut, garbled
            if started:
                upstream.mark_down(f"stream broken: {exc!r}")
                log.warning("model %s: the stream from %s broke mid-reply: %r", self.model_id, upstream.label, exc)
                raise UpstreamFailed(
                    f"The upstream serving '{self.model_id}' failed in the middle of the reply."
                ) from exc
            raise _TryAnother(repr(exc), down=True) from exc
        finally:
            upstream.outstanding -= 1

    def _refused(self, response: httpx.Response) -> NoReturn:
        """A non-200 answer: another replica may do (5xx, 404, 408, 429), or the request itself is wrong."""
        status = response.status_code
        if status >= 500 or status in _RETRYABLE_STATUS:
            raise _TryAnother(f"HTTP {status}: {_error_message(response)}", down=status >= 500)
        raise InvalidRequest(f"The upstream of '{self.model_id}' refused the request: {_error_message(response)}")

    async def _finish(self, reply: _Reply, count_prompt: Callable[[], int]) -> GenerationFinish:
        usage = reply.usage
        if usage is not None:
            prompt, completion = int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
            cached = int((usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
        else:  # llama-cpp-python's server sends no usage when streaming
            prompt = await asyncio.to_thread(count_prompt)
            text = "".join(reply.parts)
            completion = await asyncio.to_thread(self.count_tokens, text, add_bos=False) if text else 0
            cached = 0
        calls = tuple(
            GeneratedToolCall(call["id"] or f"call_{index}", call["name"], call["arguments"])
            for index, call in sorted(reply.calls.items())
        )
        return GenerationFinish(
            reason="length" if reply.reason == "length" else "stop",
            prompt_tokens=prompt,
            completion_tokens=completion,
            cached_tokens=cached,
            tool_calls=calls,
        )

    def _retry_after(self) -> int:
        return max(1, math.ceil(min(replica.upstream.config.health_interval for replica in self.replicas)))

    async def aclose(self) -> None:
        """Nothing of its own: the fleet closes the upstreams' clients, which replicas of other models share."""
