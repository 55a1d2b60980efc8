"""The error every localization step raises for bad input or a failed step (message meant for the user)."""

from __future__ import annotations

from causerie.errors import InvalidRequest


class LocalizeError(InvalidRequest):
    """A corpus, model or option that the pipeline cannot work with."""
