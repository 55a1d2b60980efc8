"""Chat messages made ready for one engine: the one place that knows two kinds of engine exist.

A prompt engine (llama.cpp, the fake) gets the messages rendered with the model's chat template,
tools described in the prompt, and forced tool calls or JSON output constrained by a grammar; its
tool calls are parsed from the text afterwards (``chat_format``). A chat engine
(``capabilities.chat``: an upstream server) gets the messages, tools, ``tool_choice`` and
``response_format`` as they are and returns the tool calls itself. Chat, code, translate,
summarize and the language policy all prepare their calls here, so each works on both kinds.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, replace
from typing import Any

from causerie.engine.base import (
    ChatGenerationRequest,
    Engine,
    GenerationEvent,
    GenerationRequest,
    SamplingParams,
    as_chat_engine,
)
from causerie.protocol.openai import ChatMessage, NamedToolChoice, ResponseFormat, Tool
from causerie.services.chat_format import ChatFormatter, RenderedPrompt
from causerie.services.sampling import count_prompt
from causerie.services.structured import response_format_grammar, tool_call_grammar

EngineRequest = GenerationRequest | ChatGenerationRequest


@dataclass(frozen=True)
class ChatPrompt:
    """A chat ready for ``engine``: its prompt tokens now, an engine request once sampling is known."""

    engine: Engine
    tokens: int
    """Prompt tokens (an upper estimate on a chat engine that cannot count them exactly)."""
    native: bool
    """The engine applies the template, tools and response_format itself (a chat engine)."""
    _rendered: RenderedPrompt | None = None
    _grammar: str | None = None
    _chat: ChatGenerationRequest | None = None

    def request(self, params: SamplingParams, *, affinity: str | None = None) -> EngineRequest:
        """The engine request: the template's stops and the grammar added on a prompt engine."""
        if self._chat is not None:
            return replace(self._chat, params=params, affinity=affinity)
        assert self._rendered is not None  # built by prepare_prompt with one of the two
        stops = tuple(dict.fromkeys([*params.stop, *self._rendered.stop]))
        return GenerationRequest(
            self._rendered.text, replace(params, stop=stops, grammar=self._grammar), affinity=affinity
        )


def _wire(message: ChatMessage) -> dict[str, Any]:
    data = message.model_dump(exclude_none=True)
    if data["role"] == "developer":  # not every server knows OpenAI's newer name for it
        data["role"] = "system"
    return data


async def prepare_prompt(
    engine: Engine,
    messages: list[ChatMessage],
    *,
    tools: Sequence[Tool] = (),
    tool_choice: str | NamedToolChoice | None = None,
    forced: Sequence[Tool] = (),
    response_format: ResponseFormat | None = None,
) -> ChatPrompt:
    """``messages`` for ``engine``; ``forced`` are the tools a prompt engine must call (``tool_choice``)."""
    chat_engine = as_chat_engine(engine)
    if chat_engine is not None:
        wire = tuple(_wire(m) for m in messages)
        tool_dicts = tuple(t.model_dump(exclude_none=True) for t in tools)
        choice = tool_choice.model_dump() if isinstance(tool_choice, NamedToolChoice) else tool_choice
        formats = response_format.model_dump(by_alias=True, exclude_none=True) if response_format else None
        request = ChatGenerationRequest(
            wire, tools=tool_dicts, tool_choice=choice if tools else None, response_format=formats
        )
        tokens = await asyncio.to_thread(chat_engine.count_chat_tokens, wire, tool_dicts)
        return ChatPrompt(engine, tokens, native=True, _chat=request)
    formatter = ChatFormatter(engine.chat_template, engine.bos_token, engine.eos_token)
    rendered = formatter.render(messages, list(tools) or None, force_tool_call=bool(forced))
    grammar = tool_call_grammar(list(forced)) if forced else response_format_grammar(response_format)
    tokens = await count_prompt(engine, rendered.text)
    return ChatPrompt(engine, tokens, native=False, _rendered=rendered, _grammar=grammar)


def run(engine: Engine, request: EngineRequest) -> AsyncGenerator[GenerationEvent, None]:
    """The engine's events for a request made by ``ChatPrompt.request``."""
    if isinstance(request, ChatGenerationRequest):
        chat_engine = as_chat_engine(engine)
        assert chat_engine is not None  # only prepare_prompt makes chat requests, for chat engines
        return chat_engine.chat(request)
    return engine.generate(request)
