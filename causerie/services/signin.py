"""Signing in to the web UI with an email and a password: server-side sessions, and their rate limits.

- A session id is 32 random bytes (URL-safe base64) that only the browser's cookie holds; the store
  keeps its SHA-256. It lasts ``SESSION_TTL_S`` and acts as its user inside their (oldest) organization,
  with the role the user has there at each request.
- The CSRF token of a session is derived from its id (``csrf_token``): a page of another site can
  neither read the cookie nor the token, so a request carrying both comes from the web UI.
- Failed attempts are counted per account and per client address (``limits``' moving window, in this
  process); past the limit, every attempt (even a right password) is a 429 until the window moves.
  Emails, passwords and session ids are never logged.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from limits import RateLimitItem, RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from causerie.errors import AuthenticationFailed, RateLimited
from causerie.principal import Principal, Role
from causerie.protocol.signin import SessionInfo
from causerie.store.accounts import AccountRepository
from causerie.store.sessions import SessionOwner, SessionRepository, SessionRow

SESSION_TTL_S = 7 * 24 * 3600.0
ACCOUNT_LIMIT = RateLimitItemPerMinute(5, 15)
"""Failed sign-ins per account: 5 in 15 minutes."""
ADDRESS_LIMIT = RateLimitItemPerMinute(20, 15)
"""Failed sign-ins per client address: 20 in 15 minutes."""

_INCORRECT = "Incorrect email or password."


def _digest(text: str, purpose: str) -> str:
    return hashlib.sha256(f"{purpose}:{text}".encode()).hexdigest()


def session_hash(session_id: str) -> str:
    return _digest(session_id, "session")


def csrf_token(session_id: str) -> str:
    """The token that a state-changing request authenticated by this session's cookie must carry."""
    return _digest(session_id, "csrf")


@dataclass(frozen=True)
class SignedIn:
    session_id: str
    """Goes into the cookie, nowhere else."""
    info: SessionInfo


def _info(owner: SessionOwner, session_id: str) -> SessionInfo:
    row = owner.session
    return SessionInfo(
        user_id=row.user_id,
        email=owner.email,
        organization_id=row.organization_id,
        role=owner.role or Role.member.value,
        expires_at=int(row.expires_at),
        csrf_token=csrf_token(session_id),
    )


class SignInService:
    def __init__(self, accounts: AccountRepository, sessions: SessionRepository) -> None:
        self._accounts = accounts
        self._sessions = sessions
        self._hasher = PasswordHasher()
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))
        """Checked against for an unknown email, so that it takes as long as a wrong password."""
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def sign_in(self, email: str, password: str, address: str) -> SignedIn:
        """A new session for the user; ``AuthenticationFailed`` (401) or ``RateLimited`` (429) otherwise."""
        buckets = ((ACCOUNT_LIMIT, f"account:{email}"), (ADDRESS_LIMIT, f"address:{address}"))
        self._refuse_if_limited(buckets)
        user = self._accounts.user_by_email(email)
        verified = self._verify(user.password_hash if user is not None else self._dummy_hash, password)
        memberships = self._accounts.memberships(user.id) if user is not None else []
        if user is None or not verified or not memberships:
            for item, key in buckets:
                self._limiter.hit(item, key)
            raise AuthenticationFailed(_INCORRECT, code="invalid_credentials")
        session_id = secrets.token_urlsafe(32)
        now = time.time()
        self._sessions.remove_expired(now)
        self._sessions.add(
            SessionRow(
                id_hash=session_hash(session_id),
                user_id=user.id,
                organization_id=memberships[0][0].id,
                created_at=now,
                expires_at=now + SESSION_TTL_S,
            )
        )
        return SignedIn(session_id, self.describe(session_id))

    def authenticate(self, session_id: str) -> Principal | None:
        """The principal a live session acts as; None for an unknown or expired one, or a former member's."""
        owner = self._live(session_id)
        if owner is None or owner.role is None:
            return None
        return Principal(owner.session.organization_id, owner.session.user_id, None, Role(owner.role))

    def describe(self, session_id: str) -> SessionInfo:
        owner = self._live(session_id)
        if owner is None or owner.role is None:
            raise AuthenticationFailed("You are not signed in.", code="not_signed_in")
        return _info(owner, session_id)

    def sign_out(self, session_id: str) -> None:
        self._sessions.remove(session_hash(session_id))

    def _live(self, session_id: str) -> SessionOwner | None:
        owner = self._sessions.find(session_hash(session_id))
        return owner if owner is not None and owner.session.expires_at > time.time() else None

    def _verify(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def _refuse_if_limited(self, buckets: tuple[tuple[RateLimitItem, str], ...]) -> None:
        for item, key in buckets:
            if not self._limiter.test(item, key):
                reset = self._limiter.get_window_stats(item, key).reset_time
                retry_after = max(1, math.ceil(reset - time.time()))
                raise RateLimited("Too many failed sign-in attempts: try again later.", retry_after=retry_after)
