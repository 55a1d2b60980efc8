"""API-key authentication, checked before routing so that no route can forget it.

Every path needs a key once keys are configured, except the short list in ``PUBLIC_PATHS`` and
``PUBLIC_PREFIXES`` (the health check and the web UI's page and assets, which call the API with a
key like any other client). An unknown ``/v1`` path without a key is a 401, not a 404: what exists
is not told to whoever has no key.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketClose

from causerie.api.errors import error_json
from causerie.errors import AuthenticationFailed

PUBLIC_PATHS = frozenset({"/", "/health"})
PUBLIC_PREFIXES = ("/web/",)


def is_public(scope: Scope) -> bool:
    """Whether the request's path (below the app's ``root_path``) is on the public list."""
    path, root = scope["path"], scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def check_api_key(authorization: str | None, api_keys: Sequence[str]) -> None:
    """Raise ``AuthenticationFailed`` unless ``authorization`` is ``Bearer <one of api_keys>``."""
    if not authorization:
        raise AuthenticationFailed(
            "You didn't provide an API key. Provide it in the Authorization header (Authorization: Bearer YOUR_KEY)."
        )
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not any(secrets.compare_digest(token.strip(), key) for key in api_keys):
        raise AuthenticationFailed("Incorrect API key provided.")


class ApiKeyAuth:
    """ASGI middleware: with ``api_keys`` set, a request to a non-public path without a valid key gets a 401."""

    def __init__(self, app: ASGIApp, api_keys: Sequence[str]) -> None:
        self.app = app
        self.api_keys = tuple(api_keys)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.api_keys or scope["type"] not in ("http", "websocket") or is_public(scope):
            await self.app(scope, receive, send)
            return
        try:
            check_api_key(Headers(scope=scope).get("authorization"), self.api_keys)
        except AuthenticationFailed as exc:
            reject = error_json(exc) if scope["type"] == "http" else WebSocketClose(code=1008, reason=exc.message)
            await reject(scope, receive, send)
            return
        await self.app(scope, receive, send)
