"""The web UI's sign-in under /v1/auth: sign in (public), the current session, sign out.

The session id goes only into the ``causerie_session`` cookie (HttpOnly, SameSite=Lax, Secure over
HTTPS); the body gives the session's CSRF token, which the UI sends back as ``X-CSRF-Token``
(checked by ``api/auth.py``). Signing in from another site's page is refused (403) like any
cross-site request: no one can sign a browser into someone else's account.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from causerie.api.auth import SESSION_COOKIE, refuse_cross_site
from causerie.api.deps import SignInDep
from causerie.api.errors import error_responses
from causerie.errors import AuthenticationFailed
from causerie.protocol.signin import SessionInfo, SignIn
from causerie.services.signin import SESSION_TTL_S

router = APIRouter(prefix="/v1/auth", tags=["auth"], responses=error_responses(400, 403, 429))


@router.post("/sign-in", response_model=SessionInfo)
async def sign_in(body: SignIn, request: Request, response: Response, signin: SignInDep) -> SessionInfo:
    """Check the email and password; set the session cookie."""
    refuse_cross_site(request.headers)
    address = request.client.host if request.client else "unknown"
    signed = await run_in_threadpool(signin.sign_in, body.email, body.password.get_secret_value(), address)
    previous = request.cookies.get(SESSION_COOKIE)
    if previous:  # the session this browser had before is over
        await run_in_threadpool(signin.sign_out, previous)
    response.set_cookie(
        SESSION_COOKIE,
        signed.session_id,
        max_age=int(SESSION_TTL_S),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return signed.info


@router.get("/session", response_model=SessionInfo)
def session(request: Request, signin: SignInDep) -> SessionInfo:
    """Who the browser is signed in as, and the CSRF token of its session."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if not session_id:
        raise AuthenticationFailed("You are not signed in.", code="not_signed_in")
    return signin.describe(session_id)


@router.post("/sign-out", status_code=204)
def sign_out(request: Request, signin: SignInDep) -> Response:
    """End the session (its cookie is cleared, and the session is gone from the store)."""
    session_id = request.cookies.get(SESSION_COOKIE)
    if session_id:
        signin.sign_out(session_id)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
    return response
