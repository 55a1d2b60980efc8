"""Text normalisation for search, identical on every database backend.

Messages store ``search_key(content)``; a query is normalised the same way and matched as a
substring (``LIKE``), so Japanese needs no word boundaries (東京 finds 東京都), and French
matches without regard to case or accents ("ecrire" finds "Écrire").
"""

from __future__ import annotations

import unicodedata

_KANA_VOICING = {"\u3099", "\u309a"}
"""Dakuten and handakuten decompose into combining marks too, but が is not か: keep them."""


def search_key(text: str) -> str:
    """NFKC (full-width and compatibility forms), casefold, then strip accents from letters."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    decomposed = unicodedata.normalize("NFD", folded)
    kept = "".join(c for c in decomposed if c in _KANA_VOICING or not unicodedata.combining(c))
    return unicodedata.normalize("NFC", kept)


def snippet(text: str, query: str, width: int = 80) -> str:
    """A window of ``text`` around the first match of ``query`` (both unnormalised), on one line."""
    key = search_key(query)
    pieces = [search_key(char) for char in text]  # per character, to map a match back to ``text``
    starts, position = [], 0
    for piece in pieces:
        starts.append(position)
        position += len(piece)
    found = "".join(pieces).find(key) if key else -1
    index = next((i for i, start in enumerate(starts) if start >= found), 0) if found >= 0 else 0
    begin = max(0, index - width // 3)
    end = min(len(text), begin + width)
    window = " ".join(text[begin:end].split())
    return ("…" if begin > 0 else "") + window + ("…" if end < len(text) else "")


def like_pattern(query: str) -> str:
    """``%key%`` with LIKE's wildcards escaped (escape character: backslash)."""
    key = search_key(query).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{key}%"
