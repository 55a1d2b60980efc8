"""Causerie's optional parts (pyproject's extras): which of their packages are missing, and how to install them.

What each extra holds is read from the installed package's metadata, so pyproject.toml stays the one
list. An extra may name another (``causerie[eval]`` inside ``test``); its packages count too.
"""

from __future__ import annotations

import importlib.metadata
import re

from causerie.errors import ExtraNotInstalled

_REQUIREMENT = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[([^\]]*)\])?")
_EXTRA_MARKER = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def required_packages(extra: str | None = None, distribution: str = "causerie") -> list[str]:
    """The distributions ``distribution`` requires (``extra=None``) or ``distribution[extra]`` adds, with the
    extras an extra names expanded; sorted, names normalized. Environment markers other than ``extra`` are
    not evaluated (Causerie's requirements have none)."""
    found: set[str] = set()
    pending: list[str | None] = [extra]
    seen: set[str | None] = set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        for requirement in importlib.metadata.requires(distribution) or []:
            marker = _EXTRA_MARKER.search(requirement)
            name_match = _REQUIREMENT.match(requirement)
            if (marker.group(1) if marker else None) != current or name_match is None:
                continue
            name, nested = _normalize(name_match.group(1)), name_match.group(2)
            if name == _normalize(distribution) and nested:
                pending.extend(part.strip() for part in nested.split(","))
            else:
                found.add(name)
    return sorted(found)


def missing_packages(extra: str | None = None) -> list[str]:
    """The packages of Causerie (``extra=None``) or of ``causerie[extra]`` that are not installed."""
    missing = []
    for name in required_packages(extra):
        try:
            importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            missing.append(name)
    return missing


def install_hint(extra: str) -> str:
    return f"bash scripts/install.sh --{extra} (or pip install 'causerie[{extra}]')"


def require_extra(extra: str, purpose: str) -> None:
    """Raise ``ExtraNotInstalled`` naming the missing packages and the install command, unless all are there."""
    missing = missing_packages(extra)
    if missing:
        raise ExtraNotInstalled(
            f"{purpose} needs the '{extra}' extra, which is not installed (missing: {', '.join(missing)}); "
            f"install it with: {install_hint(extra)}"
        )
