"""Web sign-in sessions: stored only as the SHA-256 of the session id that the browser's cookie holds.

A session belongs to a user inside one organization; the user's role there is read again on every
request (joined from the membership), so a removed member's session stops working at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Double, ForeignKey, String, delete, select
from sqlalchemy.orm import Mapped, mapped_column

from causerie.store.accounts_tables import MembershipRow, UserRow
from causerie.store.database import Database
from causerie.store.models import Base


class SessionRow(Base):
    __tablename__ = "sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    created_at: Mapped[float] = mapped_column(Double)
    expires_at: Mapped[float] = mapped_column(Double)


@dataclass(frozen=True)
class SessionOwner:
    """A session found by its hash, with its user's current role in the session's organization."""

    session: SessionRow
    role: str | None
    """None once the user is no longer a member."""
    email: str


class SessionRepository:
    def __init__(self, database: Database) -> None:
        self.database = database

    def add(self, row: SessionRow) -> None:
        with self.database.session() as session:
            session.add(row)

    def find(self, id_hash: str) -> SessionOwner | None:
        with self.database.session() as session:
            found = session.execute(
                select(SessionRow, MembershipRow.role, UserRow.email)
                .join(UserRow, UserRow.id == SessionRow.user_id)
                .outerjoin(
                    MembershipRow,
                    (MembershipRow.user_id == SessionRow.user_id)
                    & (MembershipRow.organization_id == SessionRow.organization_id),
                )
                .where(SessionRow.id_hash == id_hash)
            ).first()
            return None if found is None else SessionOwner(found[0], found[1], found[2])

    def remove(self, id_hash: str) -> None:
        with self.database.session() as session:
            session.execute(delete(SessionRow).where(SessionRow.id_hash == id_hash))

    def remove_expired(self, now: float) -> None:
        with self.database.session() as session:
            session.execute(delete(SessionRow).where(SessionRow.expires_at <= now))
