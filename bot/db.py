"""Storage: the database (SQLAlchemy through SQLModel): SQLite with WAL by default, PostgreSQL
via DATABASE_URL. `open_database` gives SQLAlchemy's engine, typed `Database` and called `db`
throughout (`Engine` is only the migration engine, bot/migration/engine.py).

The schema (Alembic revisions, the append-only `events` table) is bot/dbmigrations: its
`init_db` brings a database up to date on start.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event
from sqlalchemy.engine import Engine as Database  # SQLAlchemy's: `db` throughout
from sqlmodel import Session, create_engine

from bot import models  # noqa: F401  (models registers the tables)

DEFAULT_URL = "sqlite:///kafka-migrate.db"
BUSY_TIMEOUT_MS = 10_000


def database_url(url: str | None = None) -> str:
    url = url or os.environ.get("DATABASE_URL") or DEFAULT_URL
    # hosting platforms hand out postgres:// URLs; SQLAlchemy wants the driver named
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def open_database(url: str | None = None) -> Database:
    url = database_url(url)
    if url.startswith("sqlite"):
        db = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000}
        )
        event.listen(db, "connect", _sqlite_pragmas)
    else:
        db = create_engine(url, pool_pre_ping=True)
    return db


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")  # first: WAL switching waits too
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@contextmanager
def session_scope(db: Database) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with Session(db, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
