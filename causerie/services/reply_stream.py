"""One choice of a chat reply as a stream of events: what policies wrap and what both paths consume.

``ChatService`` runs a generation as ``Content`` pieces (text the client may see, with the
log-probabilities of its tokens) followed by exactly one ``ChoiceEnd`` (finish reason, tool
calls, the tokens spent). A policy that shapes replies (``consistency.LanguagePolicy``) turns one
such stream into another; the streaming path sends each piece as it comes, the non-streaming
path ``collect``s them. Both therefore see the same reply.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from typing import Literal

from causerie.engine.base import GenerationFinish
from causerie.protocol.openai import LanguageReport, TokenLogprobOut, ToolCall

ChoiceFinish = Literal["stop", "length", "tool_calls"]


@dataclass(frozen=True)
class Content:
    """Text of the reply that may be shown now."""

    text: str
    logprobs: tuple[TokenLogprobOut, ...] = ()


@dataclass(frozen=True)
class ChoiceEnd:
    """How a choice ended and what it cost; always the last event."""

    reason: ChoiceFinish
    tool_calls: tuple[ToolCall, ...] = ()
    generations: tuple[GenerationFinish, ...] = ()
    """Every generation of this choice that ran to its end (a policy's retry adds one)."""
    extra_prompt_tokens: int = 0
    """Prompt tokens beyond the request's own: a retry's prompt, a translation's."""
    extra_completion_tokens: int = 0
    """Completion tokens outside ``generations``: a translation's."""
    language: LanguageReport | None = None
    """What the language policy found and did (None when it did not check this reply)."""


ReplyEvent = Content | ChoiceEnd
ReplyStream = AsyncGenerator[ReplyEvent, None]
"""One choice's events; a consumer that stops early closes it (``contextlib.aclosing``), which stops the work."""


@dataclass(frozen=True)
class CollectedChoice:
    content: str
    logprobs: list[TokenLogprobOut]
    end: ChoiceEnd


async def collect(events: AsyncIterator[ReplyEvent]) -> CollectedChoice:
    """A whole choice read from its stream (the non-streaming path)."""
    texts: list[str] = []
    logprobs: list[TokenLogprobOut] = []
    end: ChoiceEnd | None = None
    async for event in events:
        if isinstance(event, ChoiceEnd):
            end = event
        else:
            texts.append(event.text)
            logprobs.extend(event.logprobs)
    if end is None:
        raise AssertionError("a reply stream always ends with a ChoiceEnd")
    return CollectedChoice("".join(texts), logprobs, end)
