"""Schema migrations (Alembic, bot/dbmigrations): applied by init_db on start; a database
created before Alembic (tables, no alembic_version) is stamped at the first revision and keeps
its rows; the migrations describe exactly the models (no autogenerate difference)."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, select

from bot import dbmigrations
from bot.db import init_db, make_engine, session_scope
from bot.models import Approval, Event, Migration
from tests.unit.conftest import migration as new_migration

OUR_TABLES = set(SQLModel.metadata.tables)  # every table the models define


def head() -> str:
    return ScriptDirectory(str(dbmigrations.SCRIPT_LOCATION)).get_current_head()


def current_revision(engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def schema_differences(engine) -> list:
    """What `alembic check` would report: models vs. the migrated database."""
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_name": dbmigrations.include_name, "compare_type": True}
        )
        return compare_metadata(context, SQLModel.metadata)


def assert_fresh_database_is_fully_migrated(engine) -> None:
    init_db(engine)
    assert OUR_TABLES | {"alembic_version"} <= set(inspect(engine).get_table_names())
    assert current_revision(engine) == head()
    assert schema_differences(engine) == []
    init_db(engine)  # idempotent
    assert current_revision(engine) == head()


def create_like_the_previous_release(engine) -> None:
    """What the release before Alembic did on start: create_all (+ the audit guard), then
    the bot wrote rows; an APScheduler job table lives in the same database."""
    SQLModel.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE apscheduler_jobs (id VARCHAR(191) PRIMARY KEY)"))
        conn.execute(text("INSERT INTO apscheduler_jobs (id) VALUES ('tick')"))
    with session_scope(engine) as session:
        session.add(new_migration("m-1"))
        session.flush()
        session.add(Event(migration_id="m-1", actor="U0ALICE", kind="created", message="created"))
        session.add(
            Approval(
                migration_id="m-1",
                step="stop_producers",
                decision="approved",
                actor="U0BOB",
                via="slack",
                state_version=3,
            )
        )


def assert_previous_release_database_upgrades(engine) -> None:
    create_like_the_previous_release(engine)
    assert "alembic_version" not in inspect(engine).get_table_names()
    init_db(engine)
    assert current_revision(engine) == head()
    with session_scope(engine) as session:
        assert session.get(Migration, "m-1").requested_by == "U0ALICE"
        assert [e.kind for e in session.exec(select(Event))] == ["created"]
        assert session.exec(select(Approval)).one().state_version == 3
    with engine.connect() as conn:  # not ours: left alone
        assert conn.execute(text("SELECT id FROM apscheduler_jobs")).scalars().all() == ["tick"]
    assert schema_differences(engine) == []
    init_db(engine)
    assert current_revision(engine) == head()


@pytest.fixture
def sqlite(tmp_path):
    return make_engine(f"sqlite:///{tmp_path / 'km.db'}")


def test_fresh_sqlite_database_gets_every_table_from_the_migrations(sqlite):
    assert_fresh_database_is_fully_migrated(sqlite)


def test_sqlite_database_of_the_previous_release_is_stamped_and_keeps_its_rows(sqlite):
    assert_previous_release_database_upgrades(sqlite)
    with pytest.raises(IntegrityError, match="append-only"), session_scope(sqlite) as session:
        session.exec(select(Event)).one().message = "rewritten"


def test_the_first_revision_is_the_baseline():
    script = ScriptDirectory(str(dbmigrations.SCRIPT_LOCATION))
    base = script.get_base()
    assert base == dbmigrations.BASELINE
    assert script.get_revision(base).down_revision is None
    assert dbmigrations.BASELINE_TABLES == OUR_TABLES


def test_head_constant_names_the_newest_revision():
    """init_db skips Alembic when the database is at HEAD: a new revision must update it."""
    assert head() == dbmigrations.HEAD


def test_a_partial_pre_alembic_database_is_refused_not_guessed(sqlite):
    SQLModel.metadata.create_all(sqlite, tables=[SQLModel.metadata.tables["migrations"]])
    with pytest.raises(RuntimeError, match="before schema migrations.*missing: approvals"):
        init_db(sqlite)


def test_migrations_exclude_the_scheduler_table():
    assert not dbmigrations.include_name("apscheduler_jobs", "table", {})
    assert dbmigrations.include_name("migrations", "table", {})
