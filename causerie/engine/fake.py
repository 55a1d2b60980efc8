"""A deterministic engine for tests: scripted replies, word-sized tokens, real scheduling.

It runs through the same ``SlotScheduler`` as llama.cpp, so queueing, fairness and
cancellation behave as in production while the output is exactly known.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field

from causerie.engine.base import (
    EngineCapabilities,
    GenerationChunk,
    GenerationEvent,
    GenerationFinish,
    GenerationRequest,
    TokenLogprob,
)
from causerie.engine.observer import CacheUsage
from causerie.engine.scheduler import SlotScheduler
from causerie.engine.text import StopMatcher
from causerie.errors import ContextLengthExceeded

_TOKEN = re.compile(r"\s*\S+|\s+")
FAKE_EOS = "<|end|>"

FAKE_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>{{ message['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def fake_tokens(text: str) -> list[str]:
    """Word-sized pieces that join back to ``text``."""
    return _TOKEN.findall(text)


def _prompt_tokens(text: str) -> list[str]:
    """As llama.cpp's engine does for a model without BOS: an empty prompt is the end-of-text token."""
    return fake_tokens(text) or [FAKE_EOS]


@dataclass
class _FakeSlot:
    history: list[str] = field(default_factory=list)


class _FakeSequence:
    def __init__(
        self, slot: _FakeSlot, request: GenerationRequest, reply: str, delay: float, spans: list[tuple[float, float]]
    ) -> None:
        prompt = _prompt_tokens(request.prompt)
        cached = 0
        while cached < min(len(prompt), len(slot.history)) and prompt[cached] == slot.history[cached]:
            cached += 1
        self.slot, self.prompt, self.cached = slot, prompt, cached
        self.pieces = fake_tokens(reply)
        self.params = request.params
        self.stops = StopMatcher(request.params.stop)
        self.delay = delay
        self.produced = 0
        self.spans, self.started = spans, time.monotonic()
        slot.history = list(prompt)

    def step(self) -> tuple[list[GenerationEvent], bool]:
        if self.delay:
            time.sleep(self.delay)
        limit = self.params.max_tokens
        if self.produced == len(self.pieces) or (limit is not None and self.produced >= limit):
            reason = "stop" if self.produced == len(self.pieces) else "length"
            tail = self.stops.flush()
            return [GenerationChunk(tail)] * bool(tail) + [self._finish(reason)], True
        piece = self.pieces[self.produced]
        self.produced += 1
        self.slot.history.append(piece)
        text = self.stops.feed(piece)
        logprobs = (TokenLogprob(piece, -0.5, tuple(piece.encode())),) if self.params.logprobs is not None else ()
        events: list[GenerationEvent] = [GenerationChunk(text, logprobs)] if text or logprobs else []
        if self.stops.stopped:
            return [*events, self._finish("stop")], True
        return events, False

    def _finish(self, reason: str) -> GenerationFinish:
        self.spans.append((self.started, time.monotonic()))
        return GenerationFinish(
            reason="stop" if reason == "stop" else "length",
            prompt_tokens=len(self.prompt),
            completion_tokens=self.produced,
            cached_tokens=self.cached,
        )


class FakeEngine:
    """Replies with ``reply(request)``; one token per word, ``delay`` seconds per step."""

    def __init__(
        self,
        model_id: str = "fake",
        reply: Callable[[GenerationRequest], str] = lambda request: "Hello from the fake engine.",
        *,
        context_length: int = 2048,
        parallel: int = 2,
        delay: float = 0.0,
        chat_template: str | None = FAKE_TEMPLATE,
        capabilities: EngineCapabilities = EngineCapabilities(),
    ) -> None:
        self.model_id = model_id
        self.capabilities = capabilities
        self.requests: list[GenerationRequest] = []
        self.spans: list[tuple[float, float]] = []
        """(first step, last step) of every finished sequence, in ``time.monotonic()`` seconds."""
        self._reply = reply
        self._context_length = context_length
        self._chat_template = chat_template
        self._delay = delay
        self._slots = [_FakeSlot() for _ in range(parallel)]
        self._scheduler: SlotScheduler[_FakeSlot, GenerationRequest] = SlotScheduler(
            self._slots, self._start, name=model_id
        )

    @property
    def context_length(self) -> int:
        return self._context_length

    @property
    def chat_template(self) -> str | None:
        return self._chat_template

    @property
    def bos_token(self) -> str:
        return ""

    @property
    def eos_token(self) -> str:
        return FAKE_EOS

    def count_tokens(self, text: str, *, add_bos: bool = True) -> int:
        return len(_prompt_tokens(text))

    async def generate(self, request: GenerationRequest) -> AsyncGenerator[GenerationEvent, None]:
        if await asyncio.to_thread(self.count_tokens, request.prompt) >= self._context_length:
            raise ContextLengthExceeded("prompt too long for the fake engine", param="messages")
        self.requests.append(request)
        async for event in self._scheduler.run(request, request.observer):
            yield event

    def load(self) -> tuple[int, int]:
        return self._scheduler.load()

    def cache_usage(self) -> CacheUsage:
        """Every slot's history (prompt and reply so far) against the slots' combined context."""
        used = sum(len(slot.history) for slot in self._slots)
        return CacheUsage(used, self._context_length * len(self._slots))

    async def aclose(self) -> None:
        self._scheduler.close()

    def _start(self, slot: _FakeSlot, request: GenerationRequest) -> _FakeSequence:
        return _FakeSequence(slot, request, self._reply(request), self._delay, self.spans)
