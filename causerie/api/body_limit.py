"""A size limit on every request body, enforced before the body is read or parsed.

File uploads (``multipart/form-data``, spooled to disk by the form parser) have a limit of their own,
larger than that of the JSON bodies every other request sends.

A declared ``Content-Length`` over the limit is answered 413 at once, without reading a byte. A body
without one (chunked) is counted as it arrives: past the limit the client gets the same 413, and the
app sees the client gone (``http.disconnect``), so it stops reading and whatever it sends after is
dropped.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from causerie.api.errors import error_json
from causerie.errors import RequestTooLarge


def _too_large(limit: int, setting: str) -> RequestTooLarge:
    return RequestTooLarge(f"The request body is larger than this server accepts ({limit} bytes; {setting}).")


class BodyLimit:
    """ASGI middleware: request bodies of at most ``max_bytes``, uploads of at most ``max_upload_bytes``."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        if headers.get("content-type", "").lower().startswith("multipart/form-data"):
            limit, setting = self.max_upload_bytes, "CAUSERIE_MAX_UPLOAD_BYTES"
        else:
            limit, setting = self.max_bytes, "CAUSERIE_MAX_REQUEST_BYTES"
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await error_json(_too_large(limit, setting))(scope, receive, send)
            return

        received = 0
        refused = False
        started = False

        async def counted_receive() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    if not started:
                        await error_json(_too_large(limit, setting))(scope, receive, send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if refused:
                return  # the 413 went out instead
            started = started or message["type"] == "http.response.start"
            await send(message)

        await self.app(scope, counted_receive, guarded_send)
