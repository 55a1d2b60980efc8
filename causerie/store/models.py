"""Tables: conversations (owned: ``Owned``) and their messages, which form a tree through ``parent_id``
and are reached through their conversation. Organizations, users and keys are in ``accounts_tables``.

Times are Unix seconds (floats, so messages created within one second keep their order).
Changing a table means adding an Alembic revision under ``migrations/versions``.
"""

from __future__ import annotations

import enum

from sqlalchemy import Double, ForeignKey, Index, String, Text
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
