"""Reading and writing organizations, users, memberships, API keys and model grants.

Nothing here hashes or checks a secret: the accounts service hands over hashes. Rows come back
detached, like the conversation repository's.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from causerie.errors import Conflict, NotFound
from causerie.principal import PERSONAL_ORGANIZATION_ID
from causerie.store.accounts_tables import ApiKeyRow, MembershipRow, ModelGrantRow, OrganizationRow, UserRow
from causerie.store.database import Database
from causerie.store.models import ConversationRow
from causerie.store.repository import new_id


@dataclass(frozen=True)
class KeyOwner:
    """An API key found by its hash, with the role its user has in the key's organization."""

    key: ApiKeyRow
    role: str | None
    """The user's role; None for a service key (no user)."""


class AccountRepository:
    def __init__(self, database: Database) -> None:
        self.database = database

    # -- organizations ------------------------------------------------------------------------

    def first_organization(self) -> OrganizationRow | None:
        """The oldest organization (the one that adopted personal mode's data), if any."""
        with self.database.session() as session:
            query = select(OrganizationRow).order_by(OrganizationRow.created_at, OrganizationRow.id).limit(1)
            return session.scalar(query)

    def create_organization(self, name: str) -> tuple[OrganizationRow, int]:
        """The new organization, and how many personal-mode conversations it adopted (the first one adopts them all)."""
        row = OrganizationRow(id=new_id("org"), name=name, created_at=time.time())
        try:
            with self.database.session() as session:
                first = not session.scalar(select(func.count()).select_from(OrganizationRow))
                session.add(row)
                session.flush()
                adopted = 0
                if first:
                    moved = cast(
                        "CursorResult[Any]",
                        session.execute(
                            update(ConversationRow)
                            .where(ConversationRow.organization_id == PERSONAL_ORGANIZATION_ID)
                            .values(organization_id=row.id)
                        ),
                    )
                    adopted = moved.rowcount
        except IntegrityError:
            raise Conflict(f"an organization named '{name}' already exists", param="name") from None
        return row, adopted

    def organization(self, name: str) -> OrganizationRow:
        with self.database.session() as session:
            row = session.scalar(select(OrganizationRow).where(OrganizationRow.name == name))
            if row is None:
                raise NotFound(f"No organization named '{name}'", param="organization")
            return row

    # -- users ----------------------------------------------------------------------------------

    def user_by_email(self, email: str) -> UserRow | None:
        with self.database.session() as session:
            return session.scalar(select(UserRow).where(UserRow.email == email))

    def add_member(self, organization_id: str, email: str, password_hash: str | None, role: str) -> UserRow:
        """Add the user (created with ``password_hash`` if new) to the organization with ``role``."""
        with self.database.session() as session:
            user = session.scalar(select(UserRow).where(UserRow.email == email))
            if user is None:
                if password_hash is None:
                    raise NotFound(f"No user with email '{email}'", param="email")
                user = UserRow(id=new_id("user"), email=email, password_hash=password_hash, created_at=time.time())
                session.add(user)
                session.flush()
            elif session.get(MembershipRow, (organization_id, user.id)) is not None:
                raise Conflict(f"'{email}' is already a member of this organization", param="email")
            session.add(MembershipRow(organization_id=organization_id, user_id=user.id, role=role))
            return user

    def member(self, organization_id: str, email: str) -> tuple[UserRow, str]:
        """The user with ``email`` and their role in the organization; ``NotFound`` unless a member."""
        with self.database.session() as session:
            found = session.execute(
                select(UserRow, MembershipRow.role)
                .join(MembershipRow, MembershipRow.user_id == UserRow.id)
                .where(UserRow.email == email, MembershipRow.organization_id == organization_id)
            ).first()
            if found is None:
                raise NotFound(f"No member with email '{email}' in this organization", param="user")
            return found[0], found[1]

    def memberships(self, user_id: str) -> list[tuple[OrganizationRow, str]]:
        with self.database.session() as session:
            rows = session.execute(
                select(OrganizationRow, MembershipRow.role)
                .join(MembershipRow, MembershipRow.organization_id == OrganizationRow.id)
                .where(MembershipRow.user_id == user_id)
                .order_by(OrganizationRow.created_at)
            )
            return [(org, role) for org, role in rows]

    # -- API keys ----------------------------------------------------------------------------------

    def add_key(self, row: ApiKeyRow) -> ApiKeyRow:
        with self.database.session() as session:
            session.add(row)
        return row

    def keys(self, organization_id: str) -> list[ApiKeyRow]:
        with self.database.session() as session:
            query = select(ApiKeyRow).where(ApiKeyRow.organization_id == organization_id).order_by(ApiKeyRow.created_at)
            return list(session.scalars(query))

    def key_by_hash(self, key_hash: str) -> KeyOwner | None:
        with self.database.session() as session:
            found = session.execute(
                select(ApiKeyRow, MembershipRow.role)
                .outerjoin(
                    MembershipRow,
                    (MembershipRow.user_id == ApiKeyRow.user_id)
                    & (MembershipRow.organization_id == ApiKeyRow.organization_id),
                )
                .where(ApiKeyRow.key_hash == key_hash)
            ).first()
            return None if found is None else KeyOwner(found[0], found[1])

    def touch_key(self, key_id: str, when: float) -> None:
        with self.database.session() as session:
            session.execute(update(ApiKeyRow).where(ApiKeyRow.id == key_id).values(last_used_at=when))

    def revoke_key(self, key_id: str, organization_id: str | None = None) -> ApiKeyRow:
        """Revoke a key (of ``organization_id`` when given: another organization's key is not found)."""
        with self.database.session() as session:
            row = session.get(ApiKeyRow, key_id)
            if row is None or (organization_id is not None and row.organization_id != organization_id):
                raise NotFound(f"No API key with id '{key_id}'", param="key_id")
            if row.revoked_at is None:
                row.revoked_at = time.time()
            return row

    # -- model grants ---------------------------------------------------------------------------

    def grant(self, organization_id: str, model_id: str) -> None:
        with self.database.session() as session:
            if session.get(ModelGrantRow, (organization_id, model_id)) is None:
                session.add(ModelGrantRow(organization_id=organization_id, model_id=model_id, created_at=time.time()))

    def revoke_grant(self, organization_id: str, model_id: str) -> bool:
        """Whether there was a grant to remove."""
        with self.database.session() as session:
            removed = cast(
                "CursorResult[Any]",
                session.execute(
                    delete(ModelGrantRow).where(
                        ModelGrantRow.organization_id == organization_id, ModelGrantRow.model_id == model_id
                    )
                ),
            )
            return removed.rowcount > 0

    def grants(self, organization_id: str) -> set[str]:
        with self.database.session() as session:
            query = select(ModelGrantRow.model_id).where(ModelGrantRow.organization_id == organization_id)
            return set(session.scalars(query))
