"""Summaries of documents of any length: map-reduce over token-budgeted chunks.

A document that fits the context (with room for the answer) is summarized in one pass. A longer
one is cut into chunks that fit (paragraphs, then sentences: ``segments``); each chunk gets a
partial summary (map); the partial summaries are joined and, while they are still too long for
one pass, cut and summarized again (reduce rounds); the last pass writes the final summary at the
requested length. The summary is in the document's language unless another is asked for; when
the model drifts into another language, the summary is translated.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Literal

from causerie.errors import InvalidRequest
from causerie.language import detect, detect_language, language_name
from causerie.principal import Principal
from causerie.protocol.text import (
    SummarizeProgress,
    SummarizeRequest,
    Summary,
    SummaryLength,
    TextUsage,
    TranslateRequest,
)
from causerie.services.engines import EnginePool
from causerie.services.prompting import Prompter
from causerie.services.sampling import count_prompt
from causerie.services.segments import segment
from causerie.services.translate import TranslationService

LENGTHS: dict[SummaryLength, tuple[str, int]] = {
    "short": ("in one or two sentences", 96),
    "medium": ("in one paragraph of about five sentences", 256),
    "long": ("in several paragraphs that cover every main point", 640),
}
"""Length -> (instruction, completion tokens allowed)."""
PARTIAL_TOKENS = 256
"""Completion tokens for a partial summary (map and reduce rounds)."""
MAX_LEVELS = 12
"""Reduce rounds before giving up (each round divides the text by several times; never reached in practice)."""


def chunks_of(text: str, budget: int, count: Callable[[str], int]) -> list[str]:
    """``text`` cut into as few pieces of at most ``budget`` tokens as whole paragraphs (or sentences) allow."""
    pieces = [s.whole(s.source) for s in segment(text, "text", budget=budget, count=count)]
    chunks: list[str] = []
    current = ""
    for piece in pieces:
        if current.strip() and count(current + piece) > budget:
            chunks.append(current.strip())
            current = ""
        current += piece
    if current.strip():
        chunks.append(current.strip())
    return chunks


def _in_language(code: str | None) -> str:
    return f"in {language_name(code)}" if code else "in the same language as the text"


@dataclass(frozen=True)
class SummaryJob:
    """A checked request, ready to run."""

    request: SummarizeRequest
    principal: Principal
    prompter: Prompter
    document_language: str | None
    language: str | None
    budget: int


class SummarizationService:
    def __init__(self, pool: EnginePool, translator: TranslationService) -> None:
        self.pool = pool
        self.translator = translator

    async def summarize(self, request: SummarizeRequest, principal: Principal) -> Summary:
        """The summary, without progress events."""
        async for event in self.run(await self.prepare(request, principal)):
            if isinstance(event, Summary):
                return event
        raise AssertionError("run() always ends with the summary")

    async def prepare(self, request: SummarizeRequest, principal: Principal) -> SummaryJob:
        prompter = await Prompter.open(self.pool, request.model, principal)
        found = detect(request.text)
        document_language = found.language if found else None
        budget = await self._budget(prompter, request, LENGTHS[request.length][1])
        return SummaryJob(
            request, principal, prompter, document_language, request.language or document_language, budget
        )

    async def run(self, job: SummaryJob) -> AsyncIterator[SummarizeProgress | Summary]:
        """``SummarizeProgress`` after each model call, then the ``Summary``."""
        prompter, language, budget = job.prompter, job.language, job.budget
        instruction, final_tokens = LENGTHS[job.request.length]
        usage = TextUsage()
        partial_tokens = min(PARTIAL_TOKENS, budget // 3)

        text, level, chunks = job.request.text, 0, 1
        while await count_prompt(prompter.engine, text, add_bos=False) > budget:
            if level >= MAX_LEVELS:
                raise InvalidRequest("the document could not be reduced to fit the model's context", param="text")
            parts = await asyncio.to_thread(chunks_of, text, budget, prompter.count)
            if level == 0:
                chunks = len(parts)
            partials: list[str] = []
            stage: Literal["map", "reduce"] = "map" if level == 0 else "reduce"
            for done, part in enumerate(parts, 1):
                reply = await prompter.reply(
                    self._partial_system(language), part, max_tokens=partial_tokens, usage=usage
                )
                partials.append(reply.text)
                yield SummarizeProgress(stage=stage, level=level, done=done, total=len(parts))
            text, level = "\n\n".join(p for p in partials if p), level + 1

        system = (
            f"Summarize the text the user sends {instruction}, {_in_language(language)}. Reply with the summary only."
        )
        reply = await prompter.reply(system, text, max_tokens=final_tokens, usage=usage)
        yield SummarizeProgress(stage="final", level=level, done=1, total=1)
        summary, translated = reply.text, False
        written_in = detect_language(summary)
        if language and written_in and written_in != language:
            translation = await self.translator.translate(
                TranslateRequest(
                    text=summary,
                    source_language=written_in,
                    target_language=language,
                    format="text",
                    model=prompter.model_id,
                ),
                job.principal,
            )
            summary, translated = translation.text, True
            usage.merge(translation.usage)
        yield Summary(
            model=prompter.model_id,
            language=language or written_in,
            document_language=job.document_language,
            summary=summary,
            chunks=chunks,
            levels=max(0, level - 1),
            translated=translated,
            usage=usage,
        )

    @staticmethod
    def _partial_system(language: str | None) -> str:
        return (
            "The user sends one part of a longer document. Write a concise summary of this part "
            f"{_in_language(language)}, keeping the key facts, names and numbers. Reply with the summary only."
        )

    async def _budget(self, prompter: Prompter, request: SummarizeRequest, final_tokens: int) -> int:
        """Tokens of text one call may read: what the context leaves after the prompt and the answer."""
        overhead = await prompter.overhead(self._partial_system("en")) + 32
        room = prompter.context_length - overhead - max(final_tokens, PARTIAL_TOKENS)
        budget = min(request.chunk_tokens or room, room)
        if budget < 64:
            raise InvalidRequest(
                f"model '{prompter.model_id}' has a context of {prompter.context_length} tokens, too small to summarize",
                param="model",
            )
        return budget
