"""Getting code out of a model's reply: fenced blocks parsed as Markdown (markdown-it), not by regex."""

from __future__ import annotations

from markdown_it import MarkdownIt

_ALIASES = {"python": {"python", "py", "python3", "py3"}}
_markdown = MarkdownIt("commonmark")


def _blocks(reply: str) -> list[tuple[str, str]]:
    """(info string, content) of each fenced or indented code block; an unclosed fence runs to the end."""
    return [
        (token.info.strip().split(" ")[0].lower() if token.type == "fence" else "", token.content)
        for token in _markdown.parse(reply)
        if token.type in ("fence", "code_block")
    ]


def extract_code(reply: str, language: str, *, prefer: str | None = None) -> str:
    """The code a reply offers for ``language``.

    Among the code blocks, those tagged with the language (or untagged) are candidates; the
    first containing ``prefer`` (e.g. ``def add(``) wins, else the longest. A reply with no
    block at all is taken as bare code.
    """
    names = _ALIASES.get(language, {language})
    blocks = _blocks(reply)
    candidates = [code for info, code in blocks if info in names] or [code for info, code in blocks if not info]
    if not candidates:
        return reply.strip() + "\n" if not blocks else blocks[0][1]
    if prefer:
        for code in candidates:
            if prefer in code:
                return code
    return max(candidates, key=len)
