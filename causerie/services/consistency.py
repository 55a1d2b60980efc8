"""Language consistency for chat: a reply should come back in the user's language.

The user's language is read from the last user message (when it is long enough to tell). A reply
is fine when it is in that language, in a language the user or the system prompt named ("Traduis
en japonais…", "answer in English"), or when its language cannot be told (code, numbers, a few
words). Requests with tools or structured output (JSON) are never checked.

``LanguagePolicy`` wraps one choice's reply stream (see ``reply_stream``); the streaming and the
non-streaming path both read the wrapped stream, so they decide alike. Text cannot be taken back
once sent, so the start of a reply is held until ``judge`` can tell its language:

- at once from the script, for East Asian replies: a few kana or hangul say Japanese or Korean,
  and han, kana or hangul in a reply to a user who writes none of them (a French question
  answered in Japanese) is wrong (``SCRIPT_LETTERS`` letters);
- as soon as the detector is sure that the first words are in an accepted language (``EARLY_MARGIN``
  from ``EARLY_LETTERS`` letters on): a reply that starts in the user's language is released after a
  few words;
- otherwise after ``HOLD_LETTERS`` letters of prose, ``HOLD_CHARS`` characters, or at the end of
  the reply, with the detector's ordinary thresholds (as before the early verdicts: a reply in another
  language is never released early, so it is refused with the same care).

A wrong start is dropped and the reply restarts with a firmer instruction appended to the last
user message; if the retry is wrong too, the rest of it is collected and translated (by the
``TranslationService`` the policy is given, which keeps code, URLs and placeholders intact) and
sent as one piece. The choice's end carries the ``causerie`` report; usage counts the retry's
prompt and any translation, but not the dropped start, which is cut off unfinished.

Where it applies: the container gives the policy to the chat service when
``Settings.language_consistency`` is on; every chat reply a user reads (the API, the CLI,
conversations, their titles) is checked. Code answers (``CodeService``) are not: they are code,
judged by the sandbox, and a retry would cost a whole generation for a sentence of prose.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import aclosing
from dataclasses import dataclass, replace
from typing import Literal

from causerie.language import (
    detect,
    east_asian_scripts,
    language_name,
    letters,
    mentioned_languages,
    prose,
)
from causerie.principal import Principal
from causerie.protocol.openai import ChatCompletionRequest, ChatMessage, LanguageReport
from causerie.protocol.text import TranslateRequest
from causerie.services.reply_stream import ChoiceEnd, Content, ReplyStream
from causerie.services.translate import TranslationService

HOLD_LETTERS = 40
"""Letters of prose (``language.letters``: a CJK one counts three) after which a reply is judged with the
detector's ordinary thresholds."""
HOLD_CHARS = 600
"""Past this many characters (mostly code, say) the reply is judged on what it has."""
EARLY_LETTERS = 16
EARLY_MARGIN = 20.0
"""From ``EARLY_LETTERS`` letters on, a start the detector finds in an accepted language, ``EARLY_MARGIN``
times as likely as any other, is accepted before ``HOLD_LETTERS`` (see ``judge``)."""
SCRIPT_LETTERS = 3
"""East Asian letters that are enough to judge a reply by its script…"""
SCRIPT_SHARE = 0.9
"""…when they are at least this share of the letters so far."""

_WRITES: dict[str, frozenset[str]] = {
    "ja": frozenset({"han", "kana"}),
    "zh": frozenset({"han"}),
    "ko": frozenset({"hangul", "han"}),
}
"""The East Asian scripts each language is written in; every other language writes none of them."""
_OWNER = {"kana": "ja", "hangul": "ko"}
"""Scripts only one language writes."""

_FIRM: dict[str, str] = {
    "fr": "Réponds uniquement en français.",
    "ja": "必ず日本語だけで答えてください。",
    "en": "Answer only in English.",
}


def firm_instruction(language: str) -> str:
    """An instruction to answer in ``language``, written in that language where we have one."""
    return _FIRM.get(language, f"Answer only in {language_name(language)} ({language_name(language, language)}).")


@dataclass(frozen=True)
class LanguagePlan:
    """What a chat request's replies should be written in."""

    expected: str
    accepted: frozenset[str]

    def firmer(self, messages: list[ChatMessage]) -> list[ChatMessage]:
        """``messages`` with the instruction to answer in the user's language added to the last user turn."""
        last = max(i for i, m in enumerate(messages) if m.role == "user")
        text = messages[last].text().rstrip() + "\n\n" + firm_instruction(self.expected)
        return [*messages[:last], messages[last].model_copy(update={"content": text}), *messages[last + 1 :]]


def plan_for(request: ChatCompletionRequest) -> LanguagePlan | None:
    """The plan for ``request``, or None when its replies are not checked."""
    if request.tools and request.tool_choice != "none":
        return None
    if request.response_format is not None and request.response_format.type != "text":
        return None
    users = [m for m in request.messages if m.role == "user"]
    if not users:
        return None
    found = detect(users[-1].text())
    if found is None:
        return None
    instructions = (
        " ".join(m.text() for m in request.messages if m.role in ("system", "developer")) + " " + users[-1].text()
    )
    return LanguagePlan(found.language, frozenset({found.language, *mentioned_languages(instructions)}))


@dataclass(frozen=True)
class Verdict:
    """What ``judge`` found of a reply's start."""

    accepted: bool
    detected: str | None
    """The language the reply was found in (None: could not tell)."""


def judge(plan: LanguagePlan, text: str, *, final: bool = False) -> Verdict | None:
    """Whether the start of a reply, ``text``, is in an accepted language; None while it cannot be told yet.

    ``final``: ``text`` is the whole reply, so a verdict is always given (an unclear one is accepted).
    Early verdicts only accept (a wrong start is refused with the ordinary thresholds, as nothing of it
    is shown meanwhile), except by script. ``EARLY_LETTERS`` and ``EARLY_MARGIN`` were chosen on 44
    English and 39 French reply starts, kept in ``tests/test_text_language_policy.py``: no start is taken
    for the other language, not even one that opens with its words ("Quelque chose is…", "Bien sûr!
    Photosynthesis…"), while a margin of 15 already lets one through; most starts are accepted after
    about 20 letters.
    """
    words = prose(text)
    by_script = _by_script(plan, words)
    if by_script is not None:
        return by_script
    found = detect(text)
    seen = letters(words)
    if (
        found is not None
        and found.language in plan.accepted
        and seen >= EARLY_LETTERS
        and found.confidence >= EARLY_MARGIN * found.runner_up
    ):
        return Verdict(True, found.language)
    if final or seen >= HOLD_LETTERS or len(text) >= HOLD_CHARS:
        return Verdict(found is None or found.language in plan.accepted, found.language if found else None)
    return None


def _by_script(plan: LanguagePlan, words: str) -> Verdict | None:
    """The verdict the script alone gives, when the reply so far is East Asian."""
    counts = east_asian_scripts(words)
    east_asian = counts.total() - counts["other"]
    if east_asian < SCRIPT_LETTERS or east_asian < SCRIPT_SHARE * counts.total():
        return None
    for script, owner in _OWNER.items():
        if counts[script]:
            return Verdict(owner in plan.accepted, owner)
    written = frozenset().union(*(_WRITES.get(language, frozenset()) for language in plan.accepted))
    if "han" not in written:  # Chinese characters to a user who writes none
        found = detect(words)
        return Verdict(False, found.language if found else None)
    return None  # han alone is Chinese or Japanese: the detector tells


Retry = Callable[[list[ChatMessage]], ReplyStream]
"""The same chat asked again with other messages, as a new reply stream."""


class LanguagePolicy:
    """Keeps chat replies in the user's language: judged as they stream, asked again, translated if need be."""

    def __init__(self, translator: TranslationService) -> None:
        self.translator = translator

    def plan(self, request: ChatCompletionRequest) -> LanguagePlan | None:
        return plan_for(request)

    async def apply(
        self,
        plan: LanguagePlan,
        reply: ReplyStream,
        *,
        retry: Retry,
        messages: list[ChatMessage],
        model: str,
        principal: Principal,
    ) -> ReplyStream:
        """``reply`` as the client may see it; ``retry`` runs the request again with firmer ``messages``."""
        ends: list[ChoiceEnd] = []
        first: Verdict | None = None
        corrected: Literal["retried", "translated"] | None = None
        translation = (0, 0)
        attempt, last_chance = reply, False
        while True:
            hold = _Hold(plan)
            async with aclosing(attempt) as events:
                async for event in events:
                    if isinstance(event, ChoiceEnd):
                        ends.append(event)
                        continue
                    for piece in hold.add(event):
                        yield piece
                    if hold.rejected and not last_chance:
                        break  # drop this start, ask again more firmly
            verdict = hold.verdict if hold.verdict is not None else hold.finish()
            first = verdict if first is None else first
            if verdict.accepted:
                for piece in hold.release():
                    yield piece
                break
            if last_chance:
                corrected = "translated"
                text, translation = await self._translate(hold.text(), plan, model, principal)
                yield Content(text)
                break
            corrected, last_chance = "retried", True
            attempt = retry(plan.firmer(messages))
        kept = ends[-1]  # the kept attempt always runs to its end; a dropped start never does
        yield replace(
            kept,
            generations=tuple(g for end in ends for g in end.generations),
            extra_prompt_tokens=sum(end.extra_prompt_tokens for end in ends) + translation[0],
            extra_completion_tokens=sum(end.extra_completion_tokens for end in ends) + translation[1],
            language=LanguageReport(language=plan.expected, detected=first.detected, corrected=corrected),
        )

    async def _translate(
        self, text: str, plan: LanguagePlan, model: str, principal: Principal
    ) -> tuple[str, tuple[int, int]]:
        """``text`` in the user's language (code, URLs and markup kept), and the (prompt, completion) tokens spent."""
        found = detect(text)
        if found is None:  # nothing left to tell the language by: keep the reply as it is
            return text, (0, 0)
        result = await self.translator.translate(
            TranslateRequest(text=text, source_language=found.language, target_language=plan.expected, model=model),
            principal,
        )
        return result.text, (result.usage.prompt_tokens, result.usage.completion_tokens)


class _Hold:
    """One attempt's start, held until its language is judged; after an accepted verdict, pieces pass through."""

    def __init__(self, plan: LanguagePlan) -> None:
        self.plan = plan
        self.pieces: list[Content] = []
        self.verdict: Verdict | None = None

    @property
    def rejected(self) -> bool:
        return self.verdict is not None and not self.verdict.accepted

    def add(self, piece: Content) -> list[Content]:
        """The pieces that may be shown now."""
        if self.verdict is not None and self.verdict.accepted:
            return [piece]
        self.pieces.append(piece)
        if self.verdict is None:
            self.verdict = judge(self.plan, self.text())
            if self.verdict is not None and self.verdict.accepted:
                return self.release()
        return []

    def finish(self) -> Verdict:
        """The verdict on the whole reply, which ended before one was given."""
        self.verdict = judge(self.plan, self.text(), final=True)
        assert self.verdict is not None
        return self.verdict

    def release(self) -> list[Content]:
        pieces, self.pieces = self.pieces, []
        return pieces

    def text(self) -> str:
        return "".join(piece.text for piece in self.pieces)


def merge_reports(reports: list[LanguageReport | None]) -> LanguageReport | None:
    """One report for a request's choices: the first one's detection, the strongest correction of any."""
    found = [report for report in reports if report is not None]
    if not found:
        return None
    kinds = {report.corrected for report in found}
    corrected = "translated" if "translated" in kinds else "retried" if "retried" in kinds else None
    return found[0].model_copy(update={"corrected": corrected})
