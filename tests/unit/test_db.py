"""Storage: SQLite pragmas, tables, append-only audit, DATABASE_URL handling."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from bot.db import database_url, open_database, session_scope
from bot.dbmigrations import HEAD, init_db
from bot.models import Approval, Event, LagSample, Migration, StepRun
from tests.support import migration


@pytest.fixture
def db(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'km.db'}")
    init_db(db)
    init_db(db)  # idempotent
    return db


def test_sqlite_runs_in_wal_with_foreign_keys_and_busy_timeout(db):
    with db.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000


def test_tables_round_trip(db):
    with session_scope(db) as session:
        session.add(migration("orders-7k2", topics=("orders.eu", "orders.us")))
        session.flush()
        session.add(StepRun(migration_id="orders-7k2", step="preflight", state="done"))
        session.add(
            Approval(
                migration_id="orders-7k2",
                step="stop_producers",
                decision="approved",
                actor="U0BOB",
                interface="slack",
                version=3,
            )
        )
        session.add(
            Event(
                migration_id="orders-7k2",
                actor="U0ALICE",
                kind="created",
                message="migration created",
                data={"topics": 2},
            )
        )
        session.add(LagSample(migration_id="orders-7k2", replication_lag=10, consumer_lag=0))
    with session_scope(db) as session:
        stored = session.get(Migration, "orders-7k2")
        assert stored.selected_topics == ["orders.eu", "orders.us"]
        assert session.exec(select(Event)).one().data == {"topics": 2}
        assert session.exec(select(Approval)).one().version == 3


def test_events_are_append_only(db):
    with session_scope(db) as session:
        session.add(migration("orders-7k2"))
        session.flush()
        session.add(
            Event(
                migration_id="orders-7k2",
                actor="U0ALICE",
                kind="created",
                message="migration created",
            )
        )
    with pytest.raises(IntegrityError, match="append-only"), session_scope(db) as session:
        session.exec(select(Event)).one().message = "rewritten history"
    with pytest.raises(IntegrityError, match="append-only"), session_scope(db) as session:
        session.delete(session.exec(select(Event)).one())
    with session_scope(db) as session:
        assert session.exec(select(Event)).one().message == "migration created"


def test_foreign_keys_are_enforced(db):
    with pytest.raises(IntegrityError), session_scope(db) as session:
        session.add(StepRun(migration_id="no-such-migration", step="preflight"))


def test_database_url(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert database_url() == "sqlite:///kafka-migrate.db"
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db:5432/km")
    assert database_url() == "postgresql+psycopg://u:p@db:5432/km"


def test_processes_starting_together_both_get_a_database(tmp_path):
    """The bot and a CLI command may create the tables at the same moment."""
    import threading

    url = f"sqlite:///{tmp_path / 'race.db'}"
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def start() -> None:
        db = open_database(url)
        barrier.wait()
        try:
            init_db(db)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with open_database(url).connect() as conn:  # the schema revision was applied once
        assert conn.execute(text("SELECT version_num FROM alembic_version")).all() == [(HEAD,)]
