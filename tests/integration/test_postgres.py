"""The storage on a real PostgreSQL server (started here with initdb/pg_ctl when available)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlmodel import select

from bot.db import database_url, open_database, session_scope
from bot.dbmigrations import init_db
from bot.errors import UserError
from bot.migration.steps import Status
from bot.migration.store import ConcurrentUpdate, Store
from bot.models import Event
from tests.support import migration
from tests.unit.test_db_migrations import (
    assert_fresh_database_is_fully_migrated,
    assert_previous_release_database_upgrades,
    assert_release_0001_database_upgrades,
)


def test_store_on_postgresql(postgres_url):
    db = open_database(postgres_url)
    assert db.dialect.name == "postgresql"
    init_db(db)
    init_db(db)  # idempotent, trigger included
    store = Store(db)
    m = store.create(migration(), "U0ALICE")
    with pytest.raises(UserError, match="already in an open migration"):
        store.create(migration("other-xyz"), "U0BOB")
    stale = store.get(m.id)
    fresh = store.get(m.id)
    fresh.status = Status.PAUSED
    store.save(fresh, 1, actor="U0ALICE", kind="paused", message="paused")
    with pytest.raises(ConcurrentUpdate):
        store.save(stale, 1, actor="bot", kind="step_done", message="late")
    with pytest.raises(DBAPIError, match="append-only"), session_scope(db) as session:
        session.exec(select(Event)).first().message = "rewritten"
    with session_scope(db) as session:
        assert [e.kind for e in session.exec(select(Event).order_by(Event.id))] == [
            "created",
            "paused",
        ]


@pytest.fixture
def empty_database(postgres_url):
    """A database of its own on the server (the module's `postgres` one has the store's rows)."""
    name = f"km_{uuid.uuid4().hex[:10]}"
    admin = create_engine(database_url(postgres_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    db = open_database(postgres_url.rsplit("/", 1)[0] + f"/{name}")
    try:
        yield db
    finally:
        db.dispose()
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE {name}"))
        admin.dispose()


def test_fresh_postgresql_database_gets_every_table_from_the_migrations(empty_database):
    assert_fresh_database_is_fully_migrated(empty_database)


def test_postgresql_database_of_the_previous_release_is_stamped_and_keeps_its_rows(
    empty_database,
):
    assert_previous_release_database_upgrades(empty_database)
    with pytest.raises(DBAPIError, match="append-only"), session_scope(empty_database) as s:
        s.exec(select(Event)).one().message = "rewritten"


def test_postgresql_database_of_release_0001_upgrades_and_keeps_its_rows(empty_database):
    assert_release_0001_database_upgrades(empty_database)
