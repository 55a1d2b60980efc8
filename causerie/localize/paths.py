"""Which server paths a localization job of the HTTP API may read: the one check, ``confined``.

A client names a corpus, an evaluation text or a base model by a path; the server reads it only
if its real path (every symlink followed, ``..`` applied) lies under one of the folders the
operator allowed. Nothing outside those folders is touched, not even to see whether it exists, so
"outside", "missing", "a folder where a file is needed" and "a symlink that leads out" all look
the same to the client, and take about the same time. The CLI (``causerie localize``) is the
operator on their own machine and reads any local path: it never calls this.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

PathKind = Literal["file", "file or folder"]


def confined(value: str | Path, roots: Sequence[Path], kind: PathKind) -> Path | None:
    """The real path of ``value`` if it is a ``kind`` under one of ``roots``; None otherwise.

    An absolute ``value`` must lie under a root; a relative one is looked up in each root in turn
    (the first root where it exists wins). The root itself counts as under itself.
    """
    text = os.fspath(value)
    if not text or "\0" in text:
        return None
    for root in roots:
        found = _inside(Path(text), root, kind)
        if found is not None:
            return found
    return None


def _inside(path: Path, root: Path, kind: PathKind) -> Path | None:
    candidate = root / path  # an absolute ``path`` replaces ``root``
    try:
        real_root = root.resolve(strict=True)
        if not any(_under(candidate, form) for form in (Path(os.path.abspath(root)), real_root)):
            return None  # checked on the names alone: nothing outside the roots is touched
        real = candidate.resolve(strict=True)
    except (OSError, RuntimeError, ValueError):  # missing, unreadable, a symlink loop, a name too long
        return None
    if not real.is_relative_to(real_root):
        return None
    if real.is_file() or (kind == "file or folder" and real.is_dir()):
        return real
    return None


def _under(path: Path, folder: Path) -> bool:
    """``path`` is ``folder`` or below it, once ``.`` and ``..`` are applied to the names (no file system access)."""
    return Path(os.path.normpath(os.path.abspath(path))).is_relative_to(folder)
