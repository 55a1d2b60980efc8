"""Tables: conversations (owned: ``Owned``) and their messages, which form a tree through ``parent_id``
and are reached through their conversation; stored responses (owned). Organizations, users and keys are
in ``accounts_tables``.

Times are Unix seconds (floats, so messages created within one second keep their order).
Changing a table means adding an Alembic revision under ``migrations/versions``.
"""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import JSON, Boolean, Double, ForeignKey, Index, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from causerie.store.ownership import Owned


class Base(DeclarativeBase):
    pass


class MessageStatus(str, enum.Enum):
    complete = "complete"
    incomplete = "incomplete"
    """Still being written, or cut short by a stop, a disconnect or a crash."""
    error = "error"
    """The engine failed while writing it; what it wrote so far is kept."""


class ConversationRow(Owned, Base):
    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str | None] = mapped_column(String(300))
    model: Mapped[str | None] = mapped_column(String(200))
    system_prompt: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(16))
    current_message_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[float] = mapped_column(Double)
    updated_at: Mapped[float] = mapped_column(Double)

    __table_args__ = (Index("ix_conversations_updated", "updated_at", "id"),)


class MessageRow(Base):
    __tablename__ = "messages"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text, default="")
    model: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=MessageStatus.complete.value)
    created_at: Mapped[float] = mapped_column(Double)
    search_text: Mapped[str] = mapped_column(Text, default="")
    """``search.search_key(content)``, kept in step by the repository."""

    __table_args__ = (
        Index("ix_messages_conversation", "conversation_id", "created_at"),
        Index("ix_messages_parent", "parent_id"),
    )


class ResponseRow(Owned, Base):
    """A stored response of the Responses API: its JSON, its input items, and where its chain shows as a
    conversation (``message_id`` is the conversation's message this response ends on)."""

    __tablename__ = "responses"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    previous_response_id: Mapped[str | None] = mapped_column(String(64))
    conversation_id: Mapped[str | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"))
    message_id: Mapped[str | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16))
    background: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float] = mapped_column(Double)
    input_items: Mapped[list[Any]] = mapped_column(JSON)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    """The ``response`` object as the API answers it."""
