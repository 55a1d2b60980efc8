"""Persistent storage: SQLAlchemy models, repositories and Alembic migrations (SQLite or PostgreSQL)."""

from causerie.store.accounts import AccountRepository
from causerie.store.database import Database, database_url
from causerie.store.models import ConversationRow, MessageRow, MessageStatus
from causerie.store.repository import ConversationRepository, SearchHit
from causerie.store.search import search_key

__all__ = [
    "AccountRepository",
    "ConversationRepository",
    "ConversationRow",
    "Database",
    "MessageRow",
    "MessageStatus",
    "SearchHit",
    "database_url",
    "search_key",
]
