"""Corpus intake: files in, clean target-language passages out, with a record of every decision.

Each supported file (.txt, .md, .html, .jsonl) is read, its text extracted and Unicode-normalized,
cut into passages, and each passage kept only if it is long enough, in the target language and not
an exact or near duplicate (MinHash LSH over character shingles, which also works for Japanese). The
kept passages are split into train and held-out sets by a hash of their text, so the split does not
depend on file order. Provenance keeps every file's path, SHA-256 and what became of it.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from html.parser import HTMLParser
from pathlib import Path
from typing import ClassVar, Literal

from pydantic import BaseModel, Field

from causerie.language import detect_language
from causerie.localize.errors import LocalizeError
from causerie.localize.paths import confined

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".jsonl")
JSONL_TEXT_FIELDS = ("text", "content", "body")

Normalization = Literal["NFC", "NFKC"]
_OUTSIDE = "outside the allowed folders (a symlink out)"


class CorpusOptions(BaseModel):
    language: str = Field(description="ISO 639-1 code of the language to keep (fr, ja…).")
    normalization: Normalization = "NFC"
    min_chars: int = Field(40, ge=1, description="Shorter passages are dropped.")
    passage_chars: int = Field(1200, ge=100, description="Paragraphs are joined into passages up to this size.")
    near_duplicate_threshold: float = Field(0.8, gt=0, le=1, description="Jaccard similarity of near duplicates.")
    heldout_fraction: float = Field(0.1, gt=0, lt=1)


class FileRecord(BaseModel):
    path: str
    sha256: str | None
    bytes: int
    status: Literal["used", "skipped"]
    reason: str | None = None
    passages: int = 0
    kept: int = 0


class Passage(BaseModel):
    text: str
    title: str | None = None
    source: str


class CorpusReport(BaseModel):
    root: str
    language: str
    files: list[FileRecord]
    passages_seen: int
    kept: int
    dropped: dict[str, int]
    train_passages: int
    heldout_passages: int
    train_chars: int
    heldout_chars: int


class Corpus(BaseModel):
    train: list[Passage]
    heldout: list[Passage]
    report: CorpusReport


class _HtmlText(HTMLParser):
    """Visible text of an HTML page, block elements ending paragraphs; the <title> kept apart."""

    _SKIP: ClassVar[frozenset[str]] = frozenset({"script", "style", "noscript", "template", "head"})
    _BLOCKS: ClassVar[frozenset[str]] = frozenset(
        {"p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "tr", "section", "article", "pre", "td"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self._skipping = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in self._SKIP:
            self._skipping += 1
        if tag in self._BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in self._SKIP and self._skipping:
            self._skipping -= 1
        if tag in self._BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skipping:
            self.parts.append(data)


def _documents(path: Path, text: str) -> list[tuple[str | None, str]]:
    """(title, text) of each document in a file; raises ValueError for malformed content."""
    suffix = path.suffix.lower()
    if suffix in (".html", ".htm"):
        parser = _HtmlText()
        parser.feed(text)
        parser.close()
        return [(parser.title.strip() or None, "".join(parser.parts))]
    if suffix == ".jsonl":
        docs: list[tuple[str | None, str]] = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"line {number} is not JSON ({exc.msg})") from None
            body = next(
                (record[k] for k in JSONL_TEXT_FIELDS if isinstance(record, dict) and isinstance(record.get(k), str)),
                None,
            )
            if body is None:
                raise ValueError(f"line {number} has no string field among {', '.join(JSONL_TEXT_FIELDS)}")
            title = record.get("title") if isinstance(record.get("title"), str) else None
            docs.append((title, body))
        return docs
    if suffix in (".md", ".markdown"):
        heading = re.search(r"^#{1,6}\s+(.+)$", text, re.MULTILINE)
        return [(heading.group(1).strip() if heading else None, text)]
    first = next((line.strip() for line in text.splitlines() if line.strip()), None)
    return [(first[:120] if first else None, text)]


def normalize(text: str, form: Normalization) -> str:
    """Unicode normalization, no control characters, spaces collapsed inside lines, blank lines kept as breaks."""
    text = unicodedata.normalize(form, text).replace("\r\n", "\n").replace("\r", "\n")
    text = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def passages_of(text: str, max_chars: int) -> list[str]:
    """Paragraphs (blank-line separated) joined greedily up to ``max_chars``; longer paragraphs cut at sentence ends."""
    pieces: list[str] = []
    for paragraph in (p.strip() for p in text.split("\n\n")):
        while len(paragraph) > max_chars:
            cut = _cut(paragraph, max_chars)
            pieces.append(paragraph[:cut].strip())
            paragraph = paragraph[cut:].strip()
        if paragraph:
            pieces.append(paragraph)
    merged: list[str] = []
    for piece in pieces:
        if merged and len(merged[-1]) + len(piece) + 2 <= max_chars:
            merged[-1] += "\n\n" + piece
        else:
            merged.append(piece)
    return merged


def _cut(text: str, max_chars: int) -> int:
    """Where to cut ``text`` before ``max_chars``: after a sentence end, else a line break or space, else hard."""
    for marks in ((". ", "! ", "? ", "。", "！", "？"), ("\n",), (" ",)):
        end = max(text.rfind(mark, 0, max_chars - 1) for mark in marks)
        if end > max_chars // 3:
            return end + 1
    return max_chars


def _shingles(text: str, size: int = 5) -> set[bytes]:
    squeezed = "".join(text.lower().split())
    return {squeezed[i : i + size].encode() for i in range(max(1, len(squeezed) - size + 1))}


def _heldout(text: str, fraction: float) -> bool:
    digest = hashlib.sha256(text.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def _files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def read_corpus(
    root: Path,
    options: CorpusOptions,
    *,
    detect: Callable[[str], str | None] = detect_language,
    confine_to: Sequence[Path] | None = None,
) -> Corpus:
    """Read, clean, filter, deduplicate and split the corpus at ``root`` (a folder or one file).

    With ``confine_to`` (a job of the HTTP API), a file whose real path leaves those folders (a
    symlink out) is skipped unread. Raises ``LocalizeError`` when the folder is missing, has no
    supported file, or keeps no passage (the message says why passages were dropped).
    """
    from datasketch import MinHash, MinHashLSH

    if not root.exists():
        raise LocalizeError(f"corpus not found: {root}", param="corpus")
    files = _files(root)
    records: list[FileRecord] = []
    dropped: Counter[str] = Counter()
    seen_exact: set[str] = set()
    lsh = MinHashLSH(threshold=options.near_duplicate_threshold, num_perm=64)
    kept: list[Passage] = []
    seen = 0
    for path in files:
        shown = str(path if root.is_file() else path.relative_to(root))
        if confine_to is not None and confined(path, confine_to, "file") is None:
            records.append(FileRecord(path=shown, sha256=None, bytes=0, status="skipped", reason=_OUTSIDE))
            continue
        record, docs = _open(path, shown)
        records.append(record)
        if record.status == "skipped":
            continue
        for title, body in docs:
            for text in passages_of(normalize(body, options.normalization), options.passage_chars):
                seen += 1
                record.passages += 1
                reason = _drop_reason(text, options, detect, seen_exact)
                if reason is None:
                    signature = MinHash(num_perm=64)
                    signature.update_batch(list(_shingles(text)))
                    if lsh.query(signature):
                        reason = "near duplicate"
                    else:
                        lsh.insert(str(len(kept)), signature)
                if reason is not None:
                    dropped[reason] += 1
                    continue
                record.kept += 1
                kept.append(
                    Passage(text=text, title=normalize(title, options.normalization) if title else None, source=shown)
                )
    _check_usable(root, options, records, dropped, kept)
    train = [p for p in kept if not _heldout(p.text, options.heldout_fraction)]
    heldout = [p for p in kept if _heldout(p.text, options.heldout_fraction)]
    if not heldout or not train:  # tiny corpora: still keep one held-out passage, deterministically
        ordered = sorted(kept, key=lambda p: hashlib.sha256(p.text.encode()).hexdigest())
        heldout, train = ordered[:1], ordered[1:]
    report = CorpusReport(
        root=str(root),
        language=options.language,
        files=records,
        passages_seen=seen,
        kept=len(kept),
        dropped=dict(dropped),
        train_passages=len(train),
        heldout_passages=len(heldout),
        train_chars=sum(len(p.text) for p in train),
        heldout_chars=sum(len(p.text) for p in heldout),
    )
    return Corpus(train=train, heldout=heldout, report=report)


def _open(path: Path, shown: str) -> tuple[FileRecord, list[tuple[str | None, str]]]:
    """The file's record and its documents; unreadable, binary or malformed files are skipped with a reason."""

    def skipped(reason: str, data: bytes | None = None) -> tuple[FileRecord, list[tuple[str | None, str]]]:
        digest = hashlib.sha256(data).hexdigest() if data is not None else None
        size = len(data) if data is not None else 0
        return FileRecord(path=shown, sha256=digest, bytes=size, status="skipped", reason=reason), []

    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        try:
            return skipped(f"unsupported file type '{path.suffix or path.name}'", path.read_bytes())
        except OSError as exc:
            return skipped(f"unreadable ({exc.strerror or exc})")
    try:
        data = path.read_bytes()
    except OSError as exc:
        return skipped(f"unreadable ({exc.strerror or exc})")
    if b"\x00" in data[:8192]:
        return skipped("binary content", data)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return skipped(f"not UTF-8 text (byte {exc.start})", data)
    try:
        docs = _documents(path, text)
    except ValueError as exc:
        return skipped(f"malformed {path.suffix.lower()}: {exc}", data)
    return FileRecord(path=shown, sha256=hashlib.sha256(data).hexdigest(), bytes=len(data), status="used"), docs


def _drop_reason(text: str, options: CorpusOptions, detect: Callable[[str], str | None], seen: set[str]) -> str | None:
    if len(text) < options.min_chars:
        return "too short"
    language = detect(text)
    if language != options.language:
        return f"language {language or 'unknown'}"
    key = hashlib.sha256(" ".join(text.lower().split()).encode()).hexdigest()
    if key in seen:
        return "exact duplicate"
    seen.add(key)
    return None


def _check_usable(
    root: Path, options: CorpusOptions, records: list[FileRecord], dropped: Counter[str], kept: list[Passage]
) -> None:
    if not records:
        raise LocalizeError(f"the corpus {root} has no files", param="corpus")
    used = [r for r in records if r.status == "used"]
    if not used:
        reasons = Counter(r.reason or "" for r in records)
        details = ", ".join(f"{n} {reason}" for reason, n in reasons.most_common(3))
        raise LocalizeError(
            f"the corpus {root} has no readable {'/'.join(SUPPORTED_SUFFIXES)} file ({details})", param="corpus"
        )
    if len(kept) < 2:
        details = ", ".join(f"{reason}: {n}" for reason, n in dropped.most_common()) or "the files are empty"
        raise LocalizeError(
            f"the corpus {root} has {len(kept)} usable passage(s) in language '{options.language}'"
            f" (at least 2 are needed); dropped: {details}",
            param="corpus",
        )
