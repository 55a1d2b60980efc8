"""The CLI's own error type (the services raise ``causerie.errors.CauserieError``), and the one place
where a server's answer becomes one: its OpenAI error envelope is read by ``protocol.openai.error_message``."""

from __future__ import annotations

from typing import Any

import httpx
import openai

from causerie.protocol.openai import error_message


class BackendError(Exception):
    """A remote server refused a request or could not be reached."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def response_error(response: httpx.Response) -> BackendError:
    """A failed response as an error: the server's ``error.message``, else its status."""
    try:
        message = error_message(response.json())
    except ValueError:
        message = None
    return BackendError(message or f"the server answered {response.status_code} {response.reason_phrase}")


def sdk_error(exc: openai.APIError) -> BackendError:
    """An ``openai`` SDK failure: the server's own ``error.message`` when the body has one, else the SDK's."""
    return BackendError(error_message(exc.body) or exc.message)


def raise_for_event(event: dict[str, Any]) -> None:
    """Raise the error an event of a stream reports (``{"error": {...}}``, as OpenAI and Causerie send it)."""
    if "error" in event:
        raise BackendError(error_message(event) or "the server reported an error")
