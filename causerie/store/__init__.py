"""Persistent storage: SQLAlchemy models, repositories and Alembic migrations (SQLite or PostgreSQL)."""

from causerie.store.accounts import AccountRepository
from causerie.store.database import Database, database_url
from causerie.store.models import ConversationRow, MessageRow, MessageStatus, ResponseRow
from causerie.store.repository import ConversationRepository, SearchHit
from causerie.store.responses import ResponseRepository
from causerie.store.search import search_key
from causerie.store.sessions import SessionRepository

__all__ = [
    "AccountRepository",
    "ConversationRepository",
    "ConversationRow",
    "Database",
    "MessageRow",
    "MessageStatus",
    "ResponseRepository",
    "ResponseRow",
    "SearchHit",
    "SessionRepository",
    "database_url",
    "search_key",
]
