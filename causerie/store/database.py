"""Opening the database: SQLite under the data folder by default, PostgreSQL by URL, always migrated."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import ArgumentError, SQLAlchemyError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from causerie.config import Settings
from causerie.errors import StorageUnavailable

log = logging.getLogger(__name__)

MIGRATIONS = "causerie.store:migrations"


def database_url(settings: Settings) -> str:
    """``CAUSERIE_DATABASE_URL`` when set, else ``sqlite:///<data_dir>/causerie.db``.

    ``postgresql://`` URLs use psycopg 3 (SQLAlchemy's default PostgreSQL driver is psycopg2).
    """
    if settings.database_url:
        url = settings.database_url
        for prefix in ("postgresql://", "postgres://"):
            if url.startswith(prefix):
                return "postgresql+psycopg://" + url[len(prefix) :]
        return url
    return f"sqlite:///{Path(settings.data_dir) / 'causerie.db'}"


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")  # ON DELETE CASCADE needs it
    cursor.execute("PRAGMA journal_mode=WAL")  # the CLI and a server may share the file
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class Database:
    """An engine plus a session factory, on a schema brought up to date by Alembic."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str) -> Database:
        """Connect and run pending migrations; a readable ``StorageUnavailable`` when that fails."""
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise StorageUnavailable(f"invalid database URL: {exc}") from exc
        options: dict[str, object] = {"pool_pre_ping": True}
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
            options["connect_args"] = {"check_same_thread": False}
        try:
            engine = create_engine(parsed, **options)
        except (ArgumentError, ImportError) as exc:
            raise StorageUnavailable(f"cannot use database {parsed.render_as_string()}: {exc}") from exc
        if parsed.get_backend_name() == "sqlite":
            event.listen(engine, "connect", _sqlite_pragmas)
        database = cls(engine)
        try:
            database.migrate()
        except SQLAlchemyError as exc:
            engine.dispose()
            raise StorageUnavailable(
                f"cannot open database {parsed.render_as_string()}: {exc.orig if isinstance(exc, StatementError) else exc}"
            ) from exc
        return database

    def migrate(self) -> None:
        """Upgrade the schema to the newest revision shipped in the package."""
        config = Config()
        config.set_main_option("script_location", MIGRATIONS)
        with self.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits on success and rolls back on error."""
        with self._sessions.begin() as session:
            yield session

    def close(self) -> None:
        self.engine.dispose()
