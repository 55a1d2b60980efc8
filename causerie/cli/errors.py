"""The CLI's own error type (the services raise ``causerie.errors.CauserieError``)."""

from __future__ import annotations


class BackendError(Exception):
    """A remote server refused a request or could not be reached."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
