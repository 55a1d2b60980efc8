"""Owner columns for every stored object and the one filter that restricts a query to a principal's own."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, String, and_
from sqlalchemy.orm import Mapped, mapped_column

from causerie.principal import PERSONAL_ORGANIZATION_ID, Principal


class Owned:
    """Mixin for a table whose rows belong to an organization, and to a user where there is one."""

    organization_id: Mapped[str] = mapped_column(String(64), index=True, default=PERSONAL_ORGANIZATION_ID)
    user_id: Mapped[str | None] = mapped_column(String(64), index=True, default=None)


def owned_by(table: Any, principal: Principal) -> ColumnElement[bool]:
    """The WHERE clause that keeps only ``principal``'s rows of ``table`` (a mapped class with ``Owned``)."""
    user = table.user_id.is_(None) if principal.user_id is None else table.user_id == principal.user_id
    return and_(table.organization_id == principal.organization_id, user)
