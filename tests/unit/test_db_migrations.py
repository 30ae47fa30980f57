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
from bot.db import open_database, session_scope
from bot.dbmigrations import init_db
from bot.models import Approval, Event, GateMessage, Migration

OUR_TABLES = set(SQLModel.metadata.tables)  # every table the models define


def head() -> str:
    return ScriptDirectory(str(dbmigrations.SCRIPT_LOCATION)).get_current_head()


def current_revision(db) -> str | None:
    with db.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def schema_differences(db) -> list:
    """What `alembic check` would report: models vs. the migrated database."""
    with db.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_name": dbmigrations.include_name, "compare_type": True}
        )
        return compare_metadata(context, SQLModel.metadata)


def assert_fresh_database_is_fully_migrated(db) -> None:
    init_db(db)
    assert OUR_TABLES | {"alembic_version"} <= set(inspect(db).get_table_names())
    assert current_revision(db) == head()
    assert schema_differences(db) == []
    init_db(db)  # idempotent
    assert current_revision(db) == head()


def schema_of_revision(db, revision: str) -> None:
    """The tables as `revision` left them (Alembic, on its own connection)."""
    from alembic import command

    with db.begin() as conn:
        command.upgrade(dbmigrations.alembic_config(conn), revision)


def write_rows_like_release_0001(db) -> None:
    """Rows as the release of revision 0001 wrote them (its column names: raw SQL, since the
    models have moved on); an APScheduler job table lives in the same database."""
    with db.begin() as conn:
        conn.execute(text("CREATE TABLE apscheduler_jobs (id VARCHAR(191) PRIMARY KEY)"))
        conn.execute(text("INSERT INTO apscheduler_jobs (id) VALUES ('tick')"))
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO migrations (id, name, source, target, replicator, topics,"
                " exclude, replication_policy, status, step, version, requested_by,"
                " selected_topics, groups, options, state, note, created_at, updated_at)"
                " VALUES ('m-1', 'orders', 'src', 'dst', 'mm2', 'orders', '', 'identity',"
                " 'active', 'catch_up', 3, 'U0ALICE', '[\"orders\"]', '[]', '{}',"
                " '{\"replication\": \"km-m-1\"}', 'lag 12', CURRENT_TIMESTAMP,"
                " CURRENT_TIMESTAMP)"
            )
        )
    with session_scope(db) as session:  # events did not change since
        session.add(Event(migration_id="m-1", actor="U0ALICE", kind="created", message="created"))
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO approvals (migration_id, step, decision, actor, via, state_version,"
                " created_at) VALUES ('m-1', 'stop_producers', 'approved', 'U0BOB', 'slack', 3,"
                " CURRENT_TIMESTAMP)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO gate_messages (channel, ts, migration_id, step, state_version, text,"
                " created_at) VALUES ('C1', '1.2', 'm-1', 'stop_producers', 3, 'approve?',"
                " CURRENT_TIMESTAMP)"
            )
        )


def create_like_the_previous_release(db) -> None:
    """What the release before Alembic did on start: create_all of its models (the tables of
    the first revision, by construction), no alembic_version; then the bot wrote rows."""
    schema_of_revision(db, dbmigrations.BASELINE)
    with db.begin() as conn:
        conn.execute(text(f"DROP TABLE {dbmigrations.VERSION_TABLE}"))
    write_rows_like_release_0001(db)


def assert_rows_kept(db) -> None:
    with session_scope(db) as session:
        m = session.get(Migration, "m-1")
        assert (m.requested_by, m.waiting_for, m.state.replication) == (
            "U0ALICE",
            "lag 12",
            "km-m-1",
        )
        assert [e.kind for e in session.exec(select(Event))] == ["created"]
        approval = session.exec(select(Approval)).one()
        assert (approval.version, approval.interface) == (3, "slack")
        assert session.exec(select(GateMessage)).one().version == 3
    with db.connect() as conn:  # not ours: left alone
        assert conn.execute(text("SELECT id FROM apscheduler_jobs")).scalars().all() == ["tick"]
    assert schema_differences(db) == []
    init_db(db)
    assert current_revision(db) == head()


def assert_previous_release_database_upgrades(db) -> None:
    create_like_the_previous_release(db)
    assert "alembic_version" not in inspect(db).get_table_names()
    init_db(db)
    assert current_revision(db) == head()
    assert_rows_kept(db)


def assert_release_0001_database_upgrades(db) -> None:
    """A database of the release with revision 0001 (alembic_version recorded) reaches HEAD
    on start and keeps its rows under the renamed columns."""
    schema_of_revision(db, "0001")
    write_rows_like_release_0001(db)
    assert current_revision(db) == "0001"
    init_db(db)
    assert current_revision(db) == head()
    assert_rows_kept(db)
    with pytest.raises(IntegrityError), session_scope(db) as session:  # the constraint
        session.add(  # followed the renamed column: a second decision of U0BOB is refused
            Approval(
                migration_id="m-1",
                step="stop_producers",
                decision="approved",
                actor="U0BOB",
                interface="slack",
                version=3,
            )
        )


@pytest.fixture
def sqlite(tmp_path):
    return open_database(f"sqlite:///{tmp_path / 'km.db'}")


def test_fresh_sqlite_database_gets_every_table_from_the_migrations(sqlite):
    assert_fresh_database_is_fully_migrated(sqlite)


def test_sqlite_database_of_the_previous_release_is_stamped_and_keeps_its_rows(sqlite):
    assert_previous_release_database_upgrades(sqlite)
    with pytest.raises(IntegrityError, match="append-only"), session_scope(sqlite) as session:
        session.exec(select(Event)).one().message = "rewritten"


def test_sqlite_database_of_release_0001_upgrades_and_keeps_its_rows(sqlite):
    assert_release_0001_database_upgrades(sqlite)


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
