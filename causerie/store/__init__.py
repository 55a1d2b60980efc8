"""Persistent storage: SQLAlchemy models, repositories and Alembic migrations (SQLite or PostgreSQL)."""

from causerie.store.accounts import AccountRepository
from causerie.store.database import Database, database_url
from causerie.store.models import ConversationRow, MessageRow, MessageStatus
from causerie.store.repository import ConversationRepository, SearchHit
from causerie.store.search import search_key
from causerie.store.sessions import SessionRepository

__all__ = [
    "AccountRepository",
    "ConversationRepository",
    "ConversationRow",
    "Database",
    "MessageRow",
    "MessageStatus",
    "SearchHit",
    "SessionRepository",
    "database_url",
    "search_key",
]
