"""Authentication, checked before routing so that no route can forget it: every request gets its ``Principal``.

- An organization's key (``Bearer sk-cau-…``) is looked up by its hash (unknown, revoked or expired:
  401) and the request acts as that key's organization, user and role.
- Organization mode (an organization exists, or ``CAUSERIE_AUTH=required``): nothing else is
  accepted on a non-public path (401).
- A signed-in browser (the ``causerie_session`` cookie, ``api/signin.py``) acts as its session's user.
  A state-changing request (not GET/HEAD/OPTIONS) authenticated by the cookie must carry the session's
  CSRF token in ``X-CSRF-Token`` and must not come from another site (``Sec-Fetch-Site``, ``Origin``):
  403 otherwise. Bearer requests need neither (a browser never adds that header by itself).
- Personal mode: as before organizations existed. With ``CAUSERIE_API_KEYS`` a request needs one of
  those keys; either way it acts as ``PERSONAL``.

The public paths (``PUBLIC_PATHS``, ``PUBLIC_PREFIXES``: the health check and the web UI's page and
assets, which call the API with a key like any other client) need nothing. An unknown ``/v1`` path
without a key is a 401, not a 404: what exists is not told to whoever has no key. The principal is
put in the request's state (``scope["state"]["principal"]``), where ``api.deps.get_principal`` reads it.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketClose

from causerie.api.errors import error_json
from causerie.errors import AuthenticationFailed, PermissionDenied
from causerie.principal import PERSONAL, Principal
from causerie.services.accounts import KEY_PREFIX, AccountService
from causerie.services.container import Container
from causerie.services.signin import csrf_token

PUBLIC_PATHS = frozenset({"/", "/health", "/v1/auth/sign-in"})
SESSION_COOKIE = "causerie_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC_PREFIXES = ("/web/",)

_MISSING = "You didn't provide an API key. Provide it in the Authorization header (Authorization: Bearer YOUR_KEY)."
_INCORRECT = "Incorrect API key provided."
_EXPIRED = "Your session has ended: sign in again."


def is_public(scope: Scope) -> bool:
    """Whether the request's path (below the app's ``root_path``) is on the public list."""
    path, root = scope["path"], scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def bearer_token(authorization: str | None) -> str | None:
    """The token of ``Authorization: Bearer <token>``; None without the header; ``""`` (which matches no key)
    for another scheme or an empty token."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def check_api_key(token: str | None, api_keys: Sequence[str]) -> None:
    """Raise ``AuthenticationFailed`` unless ``token`` is one of ``api_keys``."""
    if token is None:
        raise AuthenticationFailed(_MISSING)
    if not any(secrets.compare_digest(token, key) for key in api_keys):
        raise AuthenticationFailed(_INCORRECT)


def refuse_cross_site(headers: Mapping[str, str]) -> None:
    """``PermissionDenied`` for a request that a page of another site made the browser send."""
    site = headers.get("sec-fetch-site")
    origin = headers.get("origin")
    if site is not None:
        foreign = site not in ("same-origin", "none")
    else:
        foreign = origin is not None and urlsplit(origin).netloc != headers.get("host")
    if foreign:
        raise PermissionDenied("Cross-site requests are refused.", code="cross_site_request")


def check_csrf(headers: Mapping[str, str], session_id: str) -> None:
    """``PermissionDenied`` unless a cookie-authenticated request is same-site and carries the session's token."""
    refuse_cross_site(headers)
    if not secrets.compare_digest(headers.get(CSRF_HEADER, ""), csrf_token(session_id)):
        raise PermissionDenied("The request lacks a valid X-CSRF-Token header.", code="csrf_token_invalid")


async def session_principal(scope: Scope, container: Container, session_id: str) -> Principal | None:
    """The principal of a signed-in browser's request (``AuthenticationFailed``, ``PermissionDenied``); None
    for a cookie without a live session in personal mode (which then ignores it)."""
    principal = await run_in_threadpool(container.signin.authenticate, session_id)
    if principal is None:
        if container.accounts.organization_mode():
            raise AuthenticationFailed(_EXPIRED, code="session_expired")
        return None
    if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
        check_csrf(Headers(scope=scope), session_id)
    return principal


async def resolve_principal(token: str | None, accounts: AccountService | None, api_keys: Sequence[str]) -> Principal:
    """Who a request with ``token`` (or none) acts for; ``AuthenticationFailed`` when it may not come in.

    ``accounts`` is None only before the app's lifespan has built its container (no route works then).
    """
    if accounts is not None and token is not None and token.startswith(KEY_PREFIX):
        principal = await run_in_threadpool(accounts.authenticate, token)
        if principal is None:
            raise AuthenticationFailed(_INCORRECT)
        return principal
    if accounts is not None and accounts.organization_mode():
        raise AuthenticationFailed(_MISSING if token is None else _INCORRECT)
    if api_keys:
        check_api_key(token, api_keys)
    return PERSONAL


class Authentication:
    """ASGI middleware: resolves the principal of every non-public request, or answers 401."""

    def __init__(self, app: ASGIApp, api_keys: Sequence[str]) -> None:
        self.app = app
        self.api_keys = tuple(api_keys)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or is_public(scope):
            await self.app(scope, receive, send)
            return
        container = getattr(scope["app"].state, "container", None)
        accounts = container.accounts if container is not None else None
        headers = Headers(scope=scope)
        token = bearer_token(headers.get("authorization"))
        session_id = cookie_parser(headers.get("cookie", "")).get(SESSION_COOKIE)
        try:
            principal = None
            if token is None and session_id and container is not None:
                principal = await session_principal(scope, container, session_id)
            if principal is None:
                principal = await resolve_principal(token, accounts, self.api_keys)
        except (AuthenticationFailed, PermissionDenied) as exc:
            reject = error_json(exc) if scope["type"] == "http" else WebSocketClose(code=1008, reason=exc.message)
            await reject(scope, receive, send)
            return
        scope.setdefault("state", {})["principal"] = principal
        await self.app(scope, receive, send)
