"""Corpora uploaded through the API: stored under ``<data_dir>/corpora/<name>/``, then named by a localize job.

An upload is one flat folder of files in the formats the corpus reader knows (``.txt``, ``.md``,
``.html``, ``.jsonl``…). It is written to a hidden staging folder and renamed into place when
complete, so a job never sees half a corpus; a name is taken once (a second upload under the same
name is a 409).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO, Literal

from pydantic import BaseModel, Field

from causerie.errors import InvalidRequest
from causerie.localize.corpus import SUPPORTED_SUFFIXES
from causerie.localize.errors import CorpusExists

CORPUS_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_CHUNK = 1 << 20


class CorpusFile(BaseModel):
    name: str
    bytes: int
    sha256: str


class UploadedCorpus(BaseModel):
    object: Literal["localize.corpus"] = "localize.corpus"
    corpus: str = Field(description="The value to give as a localize job's `corpus`.")
    files: list[CorpusFile]
    created_at: int


class CorpusStore:
    """The uploaded corpora, one folder each under ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def save(self, name: str, files: Sequence[tuple[str, BinaryIO]]) -> UploadedCorpus:
        """Store ``files`` ((file name, content) pairs) as the corpus ``name``."""
        if not re.fullmatch(CORPUS_NAME_PATTERN, name):
            raise InvalidRequest(
                f"the corpus name must match {CORPUS_NAME_PATTERN} (letters, digits, '.', '_', '-')",
                param="name",
                code="invalid_value",
            )
        names = [_file_name(raw) for raw, _ in files]
        if not names:
            raise InvalidRequest("upload at least one file", param="files", code="invalid_value")
        if len(set(names)) != len(names):
            raise InvalidRequest("two uploaded files have the same name", param="files", code="invalid_value")
        target = self.folder / name
        if target.exists():
            raise CorpusExists(f"a corpus named '{name}' already exists; upload under another name", param="name")
        self.folder.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=self.folder))
        try:
            stored = [_write(staging / file_name, stream) for file_name, (_, stream) in zip(names, files, strict=True)]
            try:
                os.rename(staging, target)
            except OSError:
                if target.exists():  # another upload of the same name finished first
                    raise CorpusExists(f"a corpus named '{name}' already exists", param="name") from None
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return UploadedCorpus(corpus=name, files=stored, created_at=int(time.time()))


def _file_name(raw: str) -> str:
    """The client's file name, if it is a plain name (no folder, not hidden) of a supported type."""
    plain = (
        raw
        and raw.isprintable()
        and not raw.startswith(".")
        and not any(ch in raw for ch in "/\\")
        and len(raw.encode("utf-8", "replace")) <= 255
    )
    if not plain or Path(raw).suffix.lower() not in SUPPORTED_SUFFIXES:
        raise InvalidRequest(
            f"'{_printable(raw[:100])}' is not an allowed file name: a plain name (no folder) ending in"
            f" {', '.join(SUPPORTED_SUFFIXES)}",
            param="files",
            code="invalid_value",
        )
    return raw


def _printable(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode()


def _write(path: Path, stream: BinaryIO) -> CorpusFile:
    digest, size = hashlib.sha256(), 0
    with path.open("xb") as out:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
            out.write(chunk)
    return CorpusFile(name=path.name, bytes=size, sha256=digest.hexdigest())
