"""Storage: the database (SQLAlchemy through SQLModel): SQLite with WAL by default, PostgreSQL
via DATABASE_URL. `open_database` gives SQLAlchemy's engine, typed `Database` and called `db`
throughout (`Engine` is only the migration engine, bot/migration/engine.py).

The schema is versioned with Alembic (bot/dbmigrations); `init_db` applies it on start.

The `events` table is append-only: the database itself refuses UPDATE and DELETE on it.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event, text
from sqlalchemy.engine import Engine as Database  # SQLAlchemy's: `db` throughout
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, create_engine

from bot import dbmigrations, models  # noqa: F401  (models registers the tables)

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


def init_db(db: Database) -> None:
    """Bring the schema to the newest Alembic revision (bot/dbmigrations) and (re)create the
    append-only guard on events (idempotent). A database created before Alembic (our tables,
    no alembic_version) is stamped at the first revision, whose schema it has, and kept.

    Two processes starting together (the bot and a CLI command) migrate one after the other:
    PostgreSQL takes an advisory lock; SQLite runs it all in one BEGIN IMMEDIATE transaction
    (its write lock; the other waits up to the busy timeout, then finds the schema current).
    """
    if db.dialect.name == "postgresql":
        with db.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(7262343)"))  # one migrator at a time
            dbmigrations.upgrade(conn)
            for statement in _POSTGRES_APPEND_ONLY:
                conn.execute(text(statement))
        return
    if db.dialect.name != "sqlite":
        with db.begin() as conn:
            dbmigrations.upgrade(conn)
        return
    for attempt in range(20):
        try:
            with db.connect() as conn:
                # pysqlite would run DDL outside any transaction: take the write lock first
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                dbmigrations.upgrade(conn)
                for statement in _SQLITE_APPEND_ONLY:
                    conn.execute(text(statement))
                conn.commit()
            return
        except OperationalError as exc:
            if "locked" not in str(exc) or attempt == 19:
                raise
            time.sleep(random.uniform(0.005, 0.05))


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
