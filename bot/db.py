"""Storage: a SQLModel engine (SQLite with WAL by default, PostgreSQL via DATABASE_URL).

The `events` table is append-only: the database itself refuses UPDATE and DELETE on it.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, SQLModel, create_engine

from bot import models  # noqa: F401  (registers the tables)

DEFAULT_URL = "sqlite:///kafka-migrate.db"
BUSY_TIMEOUT_MS = 10_000

_SQLITE_APPEND_ONLY = [
    "CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events "
    "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events "
    "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END",
]
_POSTGRES_APPEND_ONLY = [
    "CREATE OR REPLACE FUNCTION events_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'events are append-only'; END $$ LANGUAGE plpgsql",
    "DROP TRIGGER IF EXISTS events_append_only ON events",
    "CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events "
    "FOR EACH ROW EXECUTE FUNCTION events_append_only()",
]


def database_url(url: str | None = None) -> str:
    url = url or os.environ.get("DATABASE_URL") or DEFAULT_URL
    # hosting platforms hand out postgres:// URLs; SQLAlchemy wants the driver named
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str | None = None) -> Engine:
    url = database_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000}
        )
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    return engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")  # first: WAL switching waits too
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def init_db(engine: Engine) -> None:
    """Create missing tables and the append-only guard on events (idempotent).

    Two processes starting together (the bot and a CLI command) may both create the tables:
    PostgreSQL takes an advisory lock so one creates them; on SQLite a CREATE that lost the
    race fails and the next pass finds the table there.
    """
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(7262343)"))  # one creator at a time
            SQLModel.metadata.create_all(conn)
            for statement in _POSTGRES_APPEND_ONLY:
                conn.execute(text(statement))
        return
    for attempt in range(20):
        try:
            SQLModel.metadata.create_all(engine)
            break
        except OperationalError as exc:
            if not ("already exists" in str(exc) or "locked" in str(exc)) or attempt == 19:
                raise
            time.sleep(random.uniform(0.005, 0.05))
    if engine.dialect.name == "sqlite":
        with engine.begin() as conn:
            for statement in _SQLITE_APPEND_ONLY:
                conn.execute(text(statement))


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
