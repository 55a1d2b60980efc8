"""Short conversation titles in the conversation's language: asked of the model, cleaned, with a fallback."""

from __future__ import annotations

import re

from causerie.principal import Principal
from causerie.protocol.openai import ChatCompletionRequest, ChatMessage
from causerie.services.chat import ChatService

TITLE_MAX_CHARS = 80
FALLBACK_CHARS = 50

_INSTRUCTIONS = {
    "en": "Write a short title (at most six words) for a conversation that starts with the message below. "
    "Answer with the title only.",
    "fr": "Écris un titre court (six mots au plus), en français, pour une conversation qui commence par le "
    "message ci-dessous. Réponds uniquement par le titre.",
    "ja": "次のメッセージで始まる会話に、日本語で短いタイトル（20文字以内）を付けてください。タイトルだけを答えてください。",
}
_LANGUAGE_NAMES = {
    "de": "German", "es": "Spanish", "it": "Italian", "pt": "Portuguese", "nl": "Dutch", "zh": "Chinese",
    "ko": "Korean", "ru": "Russian", "ar": "Arabic", "pl": "Polish", "tr": "Turkish", "vi": "Vietnamese",
}  # fmt: skip
_LABEL = re.compile(r"^\s*(?:title|titre|タイトル|题目|標題)\s*[:：]\s*", re.IGNORECASE)
_QUOTES = "\"'“”‘’«»「」『』`*#_ \u3000"


def title_instruction(language: str | None) -> str:
    if language in _INSTRUCTIONS:
        return _INSTRUCTIONS[language]
    name = _LANGUAGE_NAMES.get(language or "")
    where = f" Write it in {name}." if name else " Write it in the language of the message."
    return _INSTRUCTIONS["en"] + where


def clean_title(raw: str) -> str | None:
    """The first line, without a 'Title:' label, quotes or final period; None when unusable."""
    line = next((line for line in raw.splitlines() if line.strip()), "")
    line = _LABEL.sub("", line).strip(_QUOTES).rstrip(".。").strip(_QUOTES)
    line = " ".join(line.split())
    if not line or len(line) > TITLE_MAX_CHARS or not any(char.isalnum() for char in line):
        return None
    return line


def fallback_title(first_message: str) -> str:
    """The first message, on one line, cut at a word boundary when it has spaces."""
    text = " ".join(first_message.split())
    if len(text) <= FALLBACK_CHARS:
        return text or "…"
    cut = text[:FALLBACK_CHARS]
    if " " in cut[FALLBACK_CHARS // 2 :]:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,.;:、。") + "…"


async def generate_title(
    chat: ChatService, principal: Principal, model_id: str, language: str | None, first_message: str
) -> str:
    """Ask ``model_id`` for a title of the conversation that ``first_message`` opened."""
    request = ChatCompletionRequest(
        model=model_id,
        messages=[
            ChatMessage(role="system", content=title_instruction(language)),
            ChatMessage(role="user", content=first_message[:2000]),
        ],
        max_tokens=24,
        temperature=0,
    )
    completion = await chat.complete(await chat.prepare(request, principal))
    return clean_title(completion.choices[0].message.content or "") or fallback_title(first_message)
