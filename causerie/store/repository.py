"""Reading and writing conversations and messages; one short transaction per call.

Every method takes the ``Principal`` it acts for and sees only that principal's conversations
(``owned_by``); messages are reached through their conversation. Another owner's conversation is
not found, exactly like a missing one. Rows come back detached (``expire_on_commit=False``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, Select, and_, delete, or_, select, update
from sqlalchemy.orm import Session

from causerie.errors import ConversationNotFound, InvalidRequest, MessageNotFound
from causerie.principal import Principal
from causerie.store.database import Database
from causerie.store.models import ConversationRow, MessageRow, MessageStatus
from causerie.store.ownership import owned_by
from causerie.store.search import like_pattern, search_key


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def _not_found(conversation_id: str) -> ConversationNotFound:
    return ConversationNotFound(f"No conversation with id '{conversation_id}'", param="conversation_id")


def _owned(session: Session, principal: Principal, conversation_id: str) -> ConversationRow:
    row = session.scalar(
        select(ConversationRow).where(ConversationRow.id == conversation_id, owned_by(ConversationRow, principal))
    )
    if row is None:
        raise _not_found(conversation_id)
    return row


def _messages_of(principal: Principal) -> Select[MessageRow]:
    """Messages whose conversation is the principal's."""
    return (
        select(MessageRow)
        .join(ConversationRow, ConversationRow.id == MessageRow.conversation_id)
        .where(owned_by(ConversationRow, principal))
    )


@dataclass(frozen=True)
class SearchHit:
    conversation_id: str
    conversation_title: str | None
    message_id: str
    role: str
    content: str
    created_at: float


@dataclass(frozen=True)
class NewMessage:
    """A message to store with ``ConversationRepository.add_tree`` (imports)."""

    key: str
    parent_key: str | None
    role: str
    content: str
    model: str | None
    created_at: float


class ConversationRepository:
    def __init__(self, database: Database) -> None:
        self.database = database

    # -- conversations ------------------------------------------------------------------

    def create(
        self,
        principal: Principal,
        *,
        title: str | None = None,
        model: str | None = None,
        system_prompt: str | None = None,
        language: str | None = None,
        created_at: float | None = None,
    ) -> ConversationRow:
        stamp = created_at if created_at is not None else time.time()
        row = ConversationRow(
            id=new_id("conv"),
            title=title,
            model=model,
            system_prompt=system_prompt,
            language=language,
            created_at=stamp,
            updated_at=stamp,
            organization_id=principal.organization_id,
            user_id=principal.user_id,
        )
        with self.database.session() as session:
            session.add(row)
        return row

    def get(self, principal: Principal, conversation_id: str) -> ConversationRow:
        with self.database.session() as session:
            return _owned(session, principal, conversation_id)

    def page(self, principal: Principal, limit: int, after: str | None = None) -> tuple[list[ConversationRow], bool]:
        """Newest first by ``updated_at``; ``after`` is the id of the last row of the previous page."""
        query = (
            select(ConversationRow)
            .where(owned_by(ConversationRow, principal))
            .order_by(ConversationRow.updated_at.desc(), ConversationRow.id.desc())
        )
        with self.database.session() as session:
            if after is not None:
                cursor = session.scalar(
                    select(ConversationRow).where(ConversationRow.id == after, owned_by(ConversationRow, principal))
                )
                if cursor is None:
                    raise InvalidRequest(
                        f"'after' names no conversation: '{after}'", param="after", code="invalid_value"
                    )
                query = query.where(
                    or_(
                        ConversationRow.updated_at < cursor.updated_at,
                        and_(ConversationRow.updated_at == cursor.updated_at, ConversationRow.id < cursor.id),
                    )
                )
            rows = list(session.scalars(query.limit(limit + 1)))
        return rows[:limit], len(rows) > limit

    def all_ids(self, principal: Principal) -> list[str]:
        """Every conversation id of the principal, newest first."""
        with self.database.session() as session:
            query = (
                select(ConversationRow.id)
                .where(owned_by(ConversationRow, principal))
                .order_by(ConversationRow.updated_at.desc(), ConversationRow.id.desc())
            )
            return list(session.scalars(query))

    def update(self, principal: Principal, conversation_id: str, **fields: object) -> ConversationRow:
        """Set the given columns (title, model, system_prompt, language, current_message_id).

        Moving between branches alone (``current_message_id``) does not count as an update.
        """
        with self.database.session() as session:
            row = _owned(session, principal, conversation_id)
            for name, value in fields.items():
                setattr(row, name, value)
            if set(fields) - {"current_message_id"}:
                row.updated_at = time.time()
            return row

    def delete(self, principal: Principal, conversation_id: str) -> None:
        with self.database.session() as session:
            # Session.execute is typed as returning a Result; a DELETE's is a CursorResult, which has rowcount.
            deleted = cast(
                "CursorResult[Any]",
                session.execute(
                    delete(ConversationRow).where(
                        ConversationRow.id == conversation_id, owned_by(ConversationRow, principal)
                    )
                ),
            )
            if deleted.rowcount == 0:
                raise _not_found(conversation_id)

    # -- messages -----------------------------------------------------------------------

    def messages(self, principal: Principal, conversation_id: str) -> list[MessageRow]:
        """Every message of the conversation (all branches), oldest first."""
        query = (
            _messages_of(principal)
            .where(MessageRow.conversation_id == conversation_id)
            .order_by(MessageRow.created_at, MessageRow.id)
        )
        with self.database.session() as session:
            return list(session.scalars(query))

    def message(
        self, principal: Principal, conversation_id: str, message_id: str, *, param: str = "message_id"
    ) -> MessageRow:
        with self.database.session() as session:
            row = session.scalar(_messages_of(principal).where(MessageRow.id == message_id))
            if row is None or row.conversation_id != conversation_id:
                raise MessageNotFound(
                    f"No message with id '{message_id}' in conversation '{conversation_id}'", param=param
                )
            return row

    def add_message(
        self,
        principal: Principal,
        conversation_id: str,
        *,
        parent_id: str | None,
        role: str,
        content: str,
        model: str | None = None,
        status: MessageStatus = MessageStatus.complete,
    ) -> MessageRow:
        """Store a message and make it the conversation's current leaf."""
        stamp = time.time()
        row = MessageRow(
            id=new_id("msg"),
            conversation_id=conversation_id,
            parent_id=parent_id,
            role=role,
            content=content,
            model=model,
            status=status.value,
            created_at=stamp,
            search_text=search_key(content),
        )
        with self.database.session() as session:
            conversation = _owned(session, principal, conversation_id)
            session.add(row)
            conversation.current_message_id, conversation.updated_at = row.id, stamp
        return row

    def save_content(
        self, principal: Principal, message_id: str, content: str, status: MessageStatus | None = None
    ) -> None:
        """Write a reply's text so far (and its status when it ends)."""
        values: dict[str, object] = {"content": content, "search_text": search_key(content)}
        if status is not None:
            values["status"] = status.value
        owned = select(ConversationRow.id).where(owned_by(ConversationRow, principal))
        with self.database.session() as session:
            session.execute(
                update(MessageRow)
                .where(MessageRow.id == message_id, MessageRow.conversation_id.in_(owned))
                .values(**values)
            )

    def add_tree(
        self, principal: Principal, conversation: ConversationRow, messages: Sequence[NewMessage], current: str | None
    ) -> None:
        """Store an imported conversation (as the principal's) and its messages, parents first, in one transaction."""
        conversation.organization_id, conversation.user_id = principal.organization_id, principal.user_id
        ids = {message.key: new_id("msg") for message in messages}
        rows = [
            MessageRow(
                id=ids[m.key],
                conversation_id=conversation.id,
                parent_id=ids[m.parent_key] if m.parent_key else None,
                role=m.role,
                content=m.content,
                model=m.model,
                status=MessageStatus.complete.value,
                created_at=m.created_at,
                search_text=search_key(m.content),
            )
            for m in messages
        ]
        conversation.current_message_id = ids.get(current) if current else None
        with self.database.session() as session:
            session.add(conversation)
            session.flush()  # the conversation row first: messages reference it
            session.add_all(rows)  # inserted in this order, so each parent before its children

    def search(self, principal: Principal, query: str, limit: int) -> list[SearchHit]:
        """The principal's messages whose normalised text contains the normalised query, newest first."""
        statement = (
            select(MessageRow, ConversationRow.title)
            .join(ConversationRow, ConversationRow.id == MessageRow.conversation_id)
            .where(owned_by(ConversationRow, principal))
            .where(MessageRow.search_text.like(like_pattern(query), escape="\\"))
            .order_by(MessageRow.created_at.desc(), MessageRow.id.desc())
            .limit(limit)
        )
        with self.database.session() as session:
            return [
                SearchHit(row.conversation_id, title, row.id, row.role, row.content, row.created_at)
                for row, title in session.execute(statement)
            ]


def path_to(messages: Iterable[MessageRow], leaf_id: str | None) -> list[MessageRow]:
    """The branch from the root down to ``leaf_id`` (empty when ``leaf_id`` is None)."""
    by_id = {message.id: message for message in messages}
    branch: list[MessageRow] = []
    while leaf_id is not None and leaf_id in by_id:
        branch.append(by_id[leaf_id])
        leaf_id = by_id[leaf_id].parent_id
    return branch[::-1]
