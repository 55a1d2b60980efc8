"""Schemas of the web UI's sign-in (``/v1/auth``): email and password in, a session (cookie) out.

The session id itself is never in a body: it travels only in the HttpOnly cookie. ``csrf_token`` is
what the web UI sends back in the ``X-CSRF-Token`` header of its state-changing requests.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, SecretStr

from causerie.protocol.admin import Email
from causerie.protocol.base import RequestModel


class SignIn(RequestModel):
    email: Email
    password: SecretStr = Field(min_length=1, max_length=1024)


class SessionInfo(BaseModel):
    object: Literal["session"] = "session"
    user_id: str
    email: str
    organization_id: str
    role: str
    expires_at: int
    csrf_token: str
