"""Who a request acts for: an organization, and the user or service key inside it.

One FastAPI dependency (api layer) or the CLI resolves it; repositories and services take it and filter
by owner themselves, so ownership is enforced in one place. Personal mode (nothing configured) acts as
``PERSONAL``: one implicit organization, no user.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

PERSONAL_ORGANIZATION_ID = "org_personal"


class Role(str, enum.Enum):
    owner = "owner"
    admin = "admin"
    member = "member"


@dataclass(frozen=True)
class Principal:
    organization_id: str
    user_id: str | None = None
    """``None`` for a service key (and in personal mode)."""
    api_key_id: str | None = None
    role: Role = Role.owner

    @property
    def is_admin(self) -> bool:
        return self.role in (Role.owner, Role.admin)

    def owns(self, organization_id: str, user_id: str | None) -> bool:
        """Whether an object owned by ``organization_id`` / ``user_id`` is this principal's own."""
        return organization_id == self.organization_id and user_id == self.user_id


PERSONAL = Principal(PERSONAL_ORGANIZATION_ID)
