"""Where the CLI reads its ``Settings``: one function, called once by each command."""

from __future__ import annotations

from typing import Any

from causerie.config import Settings


def cli_settings(**overrides: Any) -> Settings:
    """Settings from the ``CAUSERIE_*`` environment, with the command's flags (those given) on top."""
    return Settings(**{key: value for key, value in overrides.items() if value is not None})
