"""Cutting documents into translatable segments, with what must not be translated masked.

A document becomes an ordered list of ``Segment``: pieces to translate and pieces to copy as they
are (fenced code blocks, blank lines, Markdown list/heading markers, markup-only lines). In the
translatable ones, code spans, URLs, tags, entities and placeholders (``{name}``, ``{{var}}``,
``%s``, ``%(name)s``) are replaced by numbered markers ``{1}`` that the model is told to keep;
``unmask`` puts the originals back and names the ones the model lost. Joining every segment's
``prefix + text + suffix`` gives the document back exactly.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

Format = Literal["text", "markdown", "html"]

MARKER = "{{{}}}"
"""``{1}``, ``{2}``…: of the forms tried, the one Qwen2.5 carried through translations most reliably."""
_MARKER_RE = re.compile(r"\{(\d+)\}")

_URL = r"(?:https?|ftp)://[^\s<>\"'`\])]+[^\s<>\"'`\]).,;:!?]|www\.[^\s<>\"'`\])]+[^\s<>\"'`\]).,;:!?]|[\w.+-]+@[\w-]+\.[\w.-]*\w"
_PLACEHOLDER = (
    r"\{\{.*?\}\}|\{%.*?%\}|\$\{[^}\n]*\}|\{[A-Za-z_0-9][\w.\[\]]*(?:![rsa])?(?::[^{}\n]*)?\}"
    r"|%(?:\(\w+\)|\d+\$)?[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]"
)
_INLINE_CODE = r"`[^`\n]+`"
_MD_EMPHASIS = r"\*\*|__|~~|(?<!\\)\|"  # bold, strike-through, table cell borders
_TAG = r"<!--.*?-->|</?[A-Za-z][^<>]*>"
_ENTITY = r"&(?:[A-Za-z]+|#\d+|#x[0-9A-Fa-f]+);"
_MD_LINK_TARGET = r"!?\[(?=[^\]\n]*\]\()|\]\([^)\s]*(?:\s+\"[^\"]*\")?\)|^\[[^\]]+\]:\s*\S+.*$"
_HTML_RAW = r"<(script|style|pre|code)\b[^>]*>.*?</\1\s*>"

_PROTECTED: dict[str, re.Pattern[str]] = {
    "text": re.compile("|".join((_INLINE_CODE, _URL, _PLACEHOLDER))),
    "markdown": re.compile(
        "|".join((_INLINE_CODE, _MD_LINK_TARGET, _TAG, _URL, _ENTITY, _PLACEHOLDER, _MD_EMPHASIS)), re.M | re.S
    ),
    "html": re.compile("|".join((_HTML_RAW, _TAG, _ENTITY, _URL, _PLACEHOLDER)), re.I | re.S),
}
_FENCE = re.compile(r"^([ \t]*)(`{3,}|~{3,})[^\n]*\n.*?^[ \t]*\2[`~]*[ \t]*$\n?", re.M | re.S)
_HTML_BLOCK_RAW = re.compile(_HTML_RAW, re.I | re.S)
_PARAGRAPH_BREAK = re.compile(r"(\n[ \t]*\n\s*)")
_HTML_BREAK = re.compile(
    r"(\s*</?(?:html|head|body|title|p|div|h[1-6]|ul|ol|li|dl|dt|dd|table|thead|tbody|tr|td|th|section|article"
    r"|header|footer|nav|aside|main|blockquote|figure|figcaption|form|br|hr|meta|link)\b[^<>]*>\s*)",
    re.I,
)
_EDGE_MARKERS = re.compile(r"^(?:\s*\{\d+\})+\s*|(?:\s*\{\d+\})+\s*$")
_MD_PREFIX = re.compile(r"^[ \t]*(?:#{1,6}[ \t]+|[-*+][ \t]+(?:\[[ xX]\][ \t]+)?|\d{1,9}[.)][ \t]+|>[ \t]?)*")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=\S)|(?<=[。！？])\s*(?=\S)")
_HTML_HINT = re.compile(r"<(?:html|body|p|div|span|h[1-6]|ul|ol|li|table|a|br|b|i|em|strong)\b[^>]*>", re.I)
_MD_HINT = re.compile(r"^(?:#{1,6} |[-*+] |\d+\. |> |```|~~~)|\[[^\]]+\]\([^)]+\)|`[^`\n]+`|\*\*[^*]+\*\*", re.M)


@dataclass
class Segment:
    """One piece of the document. ``text`` has markers; ``pieces[i-1]`` is what ``{i}`` stands for."""

    text: str
    translatable: bool
    prefix: str = ""
    suffix: str = ""
    pieces: list[str] = field(default_factory=list)

    @property
    def source(self) -> str:
        """The original text of the segment (markers restored), without prefix and suffix."""
        return unmask(self.text, self.pieces)[0]

    def whole(self, text: str) -> str:
        """``text`` (this segment's source or translation) between the segment's prefix and suffix."""
        return self.prefix + text + self.suffix


def detect_format(text: str) -> Format:
    """``html`` when it has HTML elements, ``markdown`` when it has Markdown syntax, else ``text``."""
    if len(_HTML_HINT.findall(text)) >= 2 or text.lstrip().lower().startswith(("<!doctype html", "<html")):
        return "html"
    if _MD_HINT.search(text):
        return "markdown"
    return "text"


def mask(text: str, fmt: Format) -> tuple[str, list[str]]:
    """``text`` with protected spans replaced by ``{1}``, ``{2}``…, and the spans in order."""
    pieces: list[str] = []

    def replace(match: re.Match[str]) -> str:
        pieces.append(match.group(0))
        return MARKER.format(len(pieces))

    return _PROTECTED[fmt].sub(replace, text), pieces


def unmask(text: str, pieces: list[str]) -> tuple[str, list[str]]:
    """Markers replaced by their pieces; also the pieces whose marker is missing from ``text``.

    Markers the model invented (numbers out of range) are dropped.
    """
    seen: set[int] = set()

    def replace(match: re.Match[str]) -> str:
        number = int(match.group(1))
        if 1 <= number <= len(pieces):
            seen.add(number)
            return pieces[number - 1]
        return ""

    restored = _MARKER_RE.sub(replace, text)
    return restored, [piece for i, piece in enumerate(pieces, 1) if i not in seen]


def has_prose(masked: str) -> bool:
    """Whether anything is left to translate once the markers are taken out."""
    return any(ch.isalpha() for ch in _MARKER_RE.sub("", masked))


def _renumber(text: str, pieces: list[str]) -> tuple[str, list[str]]:
    """Markers of a part of a masked text, numbered again from 1."""
    local: list[str] = []

    def replace(match: re.Match[str]) -> str:
        local.append(pieces[int(match.group(1)) - 1])
        return MARKER.format(len(local))

    return _MARKER_RE.sub(replace, text), local


def _blocks(text: str, fmt: Format) -> list[tuple[str, bool]]:
    """(chunk, may contain prose): code blocks and raw HTML elements are copied as they are."""
    raw = _FENCE if fmt == "markdown" else _HTML_BLOCK_RAW if fmt == "html" else None
    if raw is None:
        return [(text, True)]
    blocks: list[tuple[str, bool]] = []
    position = 0
    for match in raw.finditer(text):
        blocks += [(text[position : match.start()], True), (match.group(0), False)]
        position = match.end()
    blocks.append((text[position:], True))
    return [block for block in blocks if block[0]]


def _lines(paragraph: str, fmt: Format) -> list[tuple[str, str]]:
    """(prefix kept as is, body) units of a paragraph; Markdown lists, quotes and headings go line by line."""
    if fmt != "markdown":
        return [("", paragraph)]
    lines = paragraph.split("\n")
    is_table = all(line.lstrip().startswith("|") for line in lines if line.strip())
    if len(lines) > 1 and (is_table or any(_md_prefix(line).strip() for line in lines)):
        units = []
        for i, line in enumerate(lines):
            prefix = ("\n" if i else "") + _md_prefix(line)
            units.append((prefix, line[len(prefix.lstrip("\n")) :]))
        return units
    prefix = _md_prefix(paragraph)
    return [(prefix, paragraph[len(prefix) :])]


def _md_prefix(line: str) -> str:
    """The Markdown list, quote and heading marks that start ``line`` ("" when none)."""
    match = _MD_PREFIX.match(line)
    return match.group(0) if match else ""


def _split_long(masked: str, budget: int, count: Callable[[str], int]) -> list[str]:
    """Parts of ``masked`` of at most ``budget`` tokens: whole sentences where possible (separators kept)."""
    if count(masked) <= budget:
        return [masked]
    sentences = [s for s in re.split(f"({_SENTENCE_END.pattern})", masked) if s is not None]
    parts: list[str] = []
    current = ""
    for piece in sentences:
        if current and count(current + piece) > budget:
            parts.append(current)
            current = ""
        if count(piece) > budget:
            parts += _hard_split(piece, budget, count)
        else:
            current += piece
    if current:
        parts.append(current)
    return parts


def _hard_split(text: str, budget: int, count: Callable[[str], int]) -> list[str]:
    """A sentence too long for the budget, cut between words (or characters) without breaking markers."""
    parts: list[str] = []
    while text:
        size = len(text)
        while size > 1 and count(text[:size]) > budget:
            size = size * 3 // 4
        cut = text.rfind(" ", size // 2, size) + 1 if size < len(text) else size
        cut = cut or size
        open_marker = text.rfind("{", 0, cut)
        if open_marker > text.rfind("}", 0, cut):
            cut = open_marker or (text.find("}", cut) + 1) or size
        parts.append(text[:cut])
        text = text[cut:]
    return parts


def segment(text: str, fmt: Format, *, budget: int, count: Callable[[str], int]) -> list[Segment]:
    """Split ``text`` into segments of at most ``budget`` tokens each (by ``count``)."""
    segments: list[Segment] = []
    for block, may_have_prose in _blocks(text, fmt):
        if not may_have_prose:
            segments.append(Segment(block, False))
            continue
        breaks = _HTML_BREAK if fmt == "html" else _PARAGRAPH_BREAK
        for i, paragraph in enumerate(breaks.split(block)):
            if i % 2:  # a paragraph break
                segments.append(Segment(paragraph, False))
                continue
            for prefix, body in _lines(paragraph, fmt):
                segments += _units(prefix, body, fmt, budget, count)
    return [s for s in segments if s.text or s.prefix or s.suffix]


def _units(prefix: str, body: str, fmt: Format, budget: int, count: Callable[[str], int]) -> list[Segment]:
    stripped = body.strip()
    lead = body[: len(body) - len(body.lstrip())]
    trail = body[len(body.rstrip()) :]
    masked, pieces = mask(stripped, fmt)
    if not has_prose(masked):
        return [Segment(prefix + body, False)]
    parts = _split_long(masked, budget, count)
    units = []
    for i, part in enumerate(parts):
        core = part.strip()
        before = part[: len(part) - len(part.lstrip())]
        after = part[len(part.rstrip()) :]
        edges = list(_EDGE_MARKERS.finditer(core)) if has_prose(core) else []
        for edge in reversed(edges):  # markup around the sentence stays outside what the model sees
            if edge.start() == 0:
                before, core = before + edge.group(0), core[edge.end() :]
            else:
                core, after = core[: edge.start()], edge.group(0) + after
        local_text, local_pieces = _renumber(core, pieces)
        unit_prefix = (prefix + lead if i == 0 else "") + unmask(before, pieces)[0]
        unit_suffix = unmask(after, pieces)[0] + (trail if i == len(parts) - 1 else "")
        if has_prose(local_text):
            units.append(Segment(local_text, True, unit_prefix, unit_suffix, local_pieces))
        else:
            units.append(Segment("", False, unit_prefix + unmask(local_text, local_pieces)[0] + unit_suffix))
    return units
