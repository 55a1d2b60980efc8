"""Reading and writing stored responses, always through the owner filter: another owner's response is not found."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, update

from causerie.principal import Principal
from causerie.store.database import Database
from causerie.store.models import ResponseRow
from causerie.store.ownership import owned_by


class ResponseRepository:
    def __init__(self, database: Database) -> None:
        self.database = database

    def add(self, row: ResponseRow) -> None:
        with self.database.session() as session:
            session.add(row)

    def find(self, response_id: str, principal: Principal) -> ResponseRow | None:
        query = select(ResponseRow).where(ResponseRow.id == response_id, owned_by(ResponseRow, principal))
        with self.database.session() as session:
            return session.scalars(query).one_or_none()

    def chain(self, response_id: str, principal: Principal) -> list[ResponseRow]:
        """The response and those it continues, oldest first; empty when ``response_id`` is not the principal's.

        A deleted response ends the chain: what came before it is no longer part of the context."""
        rows: list[ResponseRow] = []
        next_id: str | None = response_id
        while next_id is not None and (row := self.find(next_id, principal)) is not None:
            rows.append(row)
            next_id = row.previous_response_id
        return rows[::-1]

    def save(self, response_id: str, **fields: object) -> None:
        """Set columns of a response (its status, body, the conversation message it ends on)."""
        with self.database.session() as session:
            session.execute(update(ResponseRow).where(ResponseRow.id == response_id).values(**fields))

    def delete(self, response_id: str, principal: Principal) -> bool:
        statement = delete(ResponseRow).where(ResponseRow.id == response_id, owned_by(ResponseRow, principal))
        with self.database.session() as session:
            # A DELETE's result is a CursorResult, which has rowcount (Session.execute is typed as Result).
            return cast("CursorResult[Any]", session.execute(statement)).rowcount > 0
