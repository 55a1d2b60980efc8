"""Translating documents: segment, mask what must survive, translate, restore, verify.

The source language is detected when not given. Text, Markdown and HTML keep their structure:
code blocks and markup-only pieces are copied, and code spans, URLs, tags and placeholders are
masked as ``{n}`` markers (see ``segments``). Each segment is checked after translation: every
marker must come back and every glossary term that occurs in it must be translated as required;
a segment that fails is retried once with the problems spelled out, and what is still wrong is
reported on the segment.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass

from causerie.errors import InvalidRequest
from causerie.language import detect, language_name
from causerie.principal import Principal
from causerie.protocol.text import (
    GlossaryCheck,
    TextUsage,
    TranslatedSegment,
    TranslateProgress,
    TranslateRequest,
    Translation,
)
from causerie.services.engines import EnginePool
from causerie.services.prompting import Prompter
from causerie.services.sampling import count_prompt
from causerie.services.segments import MARKER, Format, Segment, detect_format, has_prose, segment, unmask

OUTPUT_RATIO = 2.5
"""Completion tokens allowed per source token (Japanese can take twice the tokens of English)."""
_GLOSSARY_OVERHEAD = 200
"""Room kept in the prompt for glossary lines and the retry note."""

_FORMALITY: dict[tuple[str, str], str] = {
    ("fr", "formal"): "Address the reader formally, with « vous ».",
    ("fr", "informal"): "Address the reader informally, with « tu ».",
    ("ja", "formal"): "Use polite Japanese (keigo: the です/ます forms).",
    ("ja", "informal"): "Use casual Japanese (plain form: だ/る endings, no です/ます).",
    ("de", "formal"): "Address the reader formally, with « Sie ».",
    ("de", "informal"): "Address the reader informally, with « du ».",
    ("es", "formal"): "Address the reader formally, with « usted ».",
    ("es", "informal"): "Address the reader informally, with « tú ».",
    ("it", "formal"): "Address the reader formally, with « Lei ».",
    ("it", "informal"): "Address the reader informally, with « tu ».",
}
_GENERIC_FORMALITY = {"formal": "Use a formal, polite register.", "informal": "Use an informal, casual register."}
_LABEL = re.compile(r"^\s*(?:translation|traduction|翻訳)\s*[:：]\s*", re.I)


def formality_instruction(language: str, formality: str) -> str:
    return _FORMALITY.get((language, formality), _GENERIC_FORMALITY[formality])


def _term_pattern(term: str) -> re.Pattern[str]:
    escaped = re.escape(term)
    if term[0].isalnum() and term.isascii():
        escaped = rf"(?<!\w){escaped}(?!\w)"
    return re.compile(escaped, re.I)


def glossary_for(source: str, glossary: dict[str, str]) -> dict[str, str]:
    """The glossary entries whose source term occurs in ``source``."""
    return {term: target for term, target in glossary.items() if _term_pattern(term).search(source)}


def check_glossary(translation: str, entries: dict[str, str]) -> list[GlossaryCheck]:
    folded = translation.casefold()
    return [GlossaryCheck(source=s, target=t, found=t.casefold() in folded) for s, t in entries.items()]


@dataclass(frozen=True)
class TranslationJob:
    """A checked request, ready to run: errors (unknown model, undetectable language) surface before it."""

    request: TranslateRequest
    prompter: Prompter
    format: Format
    source_language: str
    segments: list[Segment]


class TranslationService:
    def __init__(self, pool: EnginePool) -> None:
        self.pool = pool

    async def translate(self, request: TranslateRequest, principal: Principal) -> Translation:
        """The whole translation, without progress events."""
        async for event in self.run(await self.prepare(request, principal)):
            if isinstance(event, Translation):
                return event
        raise AssertionError("run() always ends with the translation")

    async def prepare(self, request: TranslateRequest, principal: Principal) -> TranslationJob:
        prompter = await Prompter.open(self.pool, request.model, principal)
        fmt: Format = detect_format(request.text) if request.format == "auto" else request.format
        source = request.source_language or self._detect_source(request.text)
        budget = request.max_segment_tokens or await self._budget(prompter, source, request.target_language)
        segments = await asyncio.to_thread(segment, request.text, fmt, budget=budget, count=prompter.count)
        return TranslationJob(request, prompter, fmt, source, segments)

    async def run(self, job: TranslationJob) -> AsyncIterator[TranslateProgress | Translation]:
        """One ``TranslateProgress`` per translated segment, then the ``Translation``."""
        request, prompter, segments, source = job.request, job.prompter, job.segments, job.source_language
        usage = TextUsage()
        todo = [i for i, s in enumerate(segments) if s.translatable and source != request.target_language]
        results = [
            TranslatedSegment(index=i, source=s.source, translation=s.source, translated=False)
            for i, s in enumerate(segments)
        ]
        for done, index in enumerate(todo, 1):
            results[index] = await self._segment(prompter, index, segments[index], request, source, usage)
            yield TranslateProgress(done=done, total=len(todo), segment=_whole(segments[index], results[index]))
        whole = [_whole(s, r) for s, r in zip(segments, results, strict=True)]
        yield Translation(
            model=prompter.model_id,
            source_language=source,
            target_language=request.target_language,
            format=job.format,
            text="".join(r.translation for r in whole),
            segments=whole,
            usage=usage,
        )

    @staticmethod
    def _detect_source(text: str) -> str:
        found = detect(text)
        if found is None:
            raise InvalidRequest(
                "could not tell which language the text is in (too short or mixed); give source_language",
                param="source_language",
                code="language_not_detected",
            )
        return found.language

    async def _budget(self, prompter: Prompter, source: str, target: str) -> int:
        system = self._system(source, target, None, {}, markers=True)
        room = prompter.context_length - await prompter.overhead(system) - _GLOSSARY_OVERHEAD
        budget = int(room / (1 + OUTPUT_RATIO))
        if budget < 16:
            raise InvalidRequest(
                f"model '{prompter.model_id}' has a context of {prompter.context_length} tokens, too small to translate",
                param="model",
            )
        return budget

    @staticmethod
    def _system(source: str, target: str, formality: str | None, glossary: dict[str, str], *, markers: bool) -> str:
        lines = [
            f"You are a professional translator. Translate the user's text from {language_name(source)} "
            f"into {language_name(target)} ({language_name(target, target)}). "
            "Reply with the translation only: no notes, no explanations, no quotes around it.",
        ]
        if markers:
            lines.append(
                f"Markers like {MARKER.format(1)} stand for code, links or markup: copy every marker unchanged into the "
                "translation, at the matching place."
            )
        if formality:
            lines.append(formality_instruction(target, formality))
        if glossary:
            terms = "; ".join(f"“{s}” → “{t}”" for s, t in glossary.items())
            lines.append(f"Translate these terms exactly as given: {terms}.")
        return "\n".join(lines)

    async def _segment(
        self, prompter: Prompter, index: int, seg: Segment, request: TranslateRequest, source: str, usage: TextUsage
    ) -> TranslatedSegment:
        original = seg.source
        entries = glossary_for(original, request.glossary)
        system = self._system(source, request.target_language, request.formality, entries, markers=bool(seg.pieces))
        best: TranslatedSegment | None = None
        best_problems = 0
        max_tokens = int(await count_prompt(prompter.engine, seg.text, add_bos=False) * OUTPUT_RATIO) + 32
        for attempt in (1, 2):
            reply = await prompter.reply(system, seg.text, max_tokens=max_tokens, usage=usage)
            text = _LABEL.sub("", reply.text)
            translation, missing = unmask(text, seg.pieces)
            checks = check_glossary(translation, entries)
            result = TranslatedSegment(
                index=index,
                source=original,
                translation=translation,
                translated=True,
                glossary=checks,
                missing=missing,
                attempts=attempt,
            )
            problems = len(missing) + sum(not c.found for c in checks) + (not has_prose(text))
            if best is None or problems < best_problems:  # keep the attempt with the fewest problems
                best, best_problems = result, problems
            if problems == 0:
                break
            system = self._system(source, request.target_language, request.formality, entries, markers=bool(seg.pieces))
            system += "\n" + _retry_note(missing, checks, seg.pieces)
        assert best is not None
        return best.model_copy(update={"attempts": attempt})


def _whole(seg: Segment, result: TranslatedSegment) -> TranslatedSegment:
    """``result`` with the segment's layout (Markdown markers, surrounding markup) on both sides."""
    return result.model_copy(update={"source": seg.whole(result.source), "translation": seg.whole(result.translation)})


def _retry_note(missing: list[str], checks: list[GlossaryCheck], pieces: list[str]) -> str:
    notes = []
    if missing:
        numbers = ", ".join(MARKER.format(pieces.index(p) + 1) for p in missing)
        notes.append(f"Your previous translation lost these markers, include them: {numbers}.")
    wrong = [c for c in checks if not c.found]
    if wrong:
        notes.append(
            "Your previous translation did not use the required terms: "
            + "; ".join(f"“{c.source}” must be “{c.target}”" for c in wrong)
            + "."
        )
    return " ".join(notes) or "Translate the whole text, keeping its meaning."
