"""Language consistency for chat: a reply should come back in the user's language.

The user's language is read from the last user message (when it is long enough to tell). A reply
is fine when it is in that language, in a language the user or the system prompt named ("Traduis
en japonais…", "answer in English"), or when its language cannot be told (code, numbers, a few
words). Requests with tools or structured output (JSON) are never checked.

Correction, in order: ask again with a firmer instruction appended to the last user message; if
that reply is still in another language, translate it (``TranslationService``, which keeps code,
URLs and placeholders intact). The chat completion says what happened in its ``causerie`` field.

Streaming: text cannot be taken back once sent, so the start of each streamed reply is held until
its language can be told (``HOLD_LETTERS`` letters of prose, or ``HOLD_CHARS`` characters, or the
end of the reply). A wrong start is dropped and the reply restarts with the firmer instruction;
if the retry also starts wrong, the rest of it is collected, translated and sent as one piece.
The final chunk (the one with ``finish_reason``) carries the ``causerie`` report; ``usage`` counts
the retry's prompt and any translation, but not the dropped start, which is cut off unfinished. The cost when
the language is right: two fastText predictions and a delay of about one short sentence before
the first streamed token.
"""

from __future__ import annotations

from dataclasses import dataclass

from causerie.language import detect, language_name, mentioned_languages, prose
from causerie.protocol.openai import ChatCompletionRequest, ChatMessage

HOLD_LETTERS = 40
"""Letters of prose a streamed reply must have before its language is judged."""
HOLD_CHARS = 600
"""Past this many characters (mostly code, say) the reply is released without a verdict."""

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

    def ready(self, text: str) -> bool:
        """Whether enough of a streamed reply has arrived to judge its language."""
        return sum(ch.isalpha() for ch in prose(text)) >= HOLD_LETTERS or len(text) >= HOLD_CHARS

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
