"""Schemas of the admin API (``/v1/admin``) and of ``causerie admin``: organizations, members, API keys.

A key's secret appears once, in ``ApiKeyCreated``; every other view shows its display prefix only.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, Field, SecretStr
from pydantic_core import PydanticCustomError

from causerie.protocol.base import RequestModel

MemberRole = Literal["admin", "member"]
"""The roles an admin may give; ``owner`` is not given through the API or the CLI."""

_DURATION = re.compile(r"^(\d+)([dhm])$")
_UNITS = {"d": "days", "h": "hours", "m": "minutes"}


def parse_duration(text: str) -> timedelta:
    """``30d``, ``12h``, ``90m`` as a duration; ``PydanticCustomError`` (a 400 naming the field) otherwise."""
    found = _DURATION.match(text.strip())
    if found is None or int(found.group(1)) == 0:
        raise PydanticCustomError("duration", "a duration such as 30d, 12h or 90m (days, hours, minutes)")
    return timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})


def _email(value: str) -> str:
    email = value.strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or " " in email:
        raise PydanticCustomError("email", "an email address such as ada@example.com")
    return email


Email = Annotated[str, Field(max_length=320), AfterValidator(_email)]
Duration = Annotated[str, AfterValidator(lambda text: parse_duration(text) and text)]
OrganizationName = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^\S(.*\S)?$")]


class Organization(BaseModel):
    id: str
    object: Literal["organization"] = "organization"
    name: str
    created_at: int
    adopted_conversations: int = 0
    """How many personal-mode conversations this organization took over (the first one takes them all)."""


class UserCreate(RequestModel):
    email: Email
    password: SecretStr = Field(min_length=8, max_length=1024)
    role: MemberRole = "member"


class Member(BaseModel):
    id: str
    object: Literal["organization.user"] = "organization.user"
    email: str
    role: str
    created_at: int


class ApiKeyCreate(RequestModel):
    user: Email | None = None
    """A member's email: the key acts as that user; none: a service key of the organization."""
    name: str | None = Field(None, max_length=200)
    expires: Duration | None = None
    """How long the key is valid (``30d``, ``12h``, ``90m``); none: until revoked."""


class ApiKey(BaseModel):
    id: str
    object: Literal["organization.api_key"] = "organization.api_key"
    name: str | None
    prefix: str
    """The start of the key, to recognize it (``sk-cau-AbCd…``)."""
    user_id: str | None
    created_at: int
    expires_at: int | None
    revoked_at: int | None
    last_used_at: int | None


class ApiKeyCreated(ApiKey):
    key: str
    """The key itself: shown this once, stored only as a hash."""


class ApiKeyList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ApiKey]


class ModelGrantCreate(RequestModel):
    organization: OrganizationName
    """The organization that may use the model from now on."""


class ModelGrant(BaseModel):
    object: Literal["model.grant"] = "model.grant"
    organization: str
    model: str
    granted: bool
