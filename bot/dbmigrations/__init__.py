"""Schema migrations (Alembic): `env.py` and the revisions in `versions/`.

`init_db` applies them on start (`upgrade head`) on SQLite and PostgreSQL. A database
created by a release before Alembic (our tables present, no revision recorded) is stamped at
`BASELINE`, the first revision, which creates the schema those releases created.

A schema change is a new revision: change bot/models.py, then from the repository root
`.venv/bin/alembic revision --autogenerate -m "what changes"` (alembic.ini points here and at
$DATABASE_URL), review the generated file, set `HEAD` below to its revision id, and run
`.venv/bin/alembic check`.
"""

from __future__ import annotations

import logging
import random
import time
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import SQLModel

from bot import models  # noqa: F401  (registers the tables)

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)
SCRIPT_LOCATION = Path(__file__).parent
BASELINE = "0001"
# the newest revision: a new revision updates it (a unit test compares it with versions/)
HEAD = "0003"
VERSION_TABLE = "alembic_version"
# the tables of BASELINE, i.e. of every release before Alembic (fixed: later revisions add theirs)
BASELINE_TABLES = frozenset(
    {
        "migrations",
        "step_runs",
        "topic_locks",
        "approvals",
        "leases",
        "gate_messages",
        "events",
        "lag_samples",
    }
)

# the `events` table is append-only: the database itself refuses UPDATE and DELETE on it
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


def init_db(db: Engine) -> None:
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
            upgrade(conn)
            for statement in _POSTGRES_APPEND_ONLY:
                conn.execute(text(statement))
        return
    if db.dialect.name != "sqlite":
        with db.begin() as conn:
            upgrade(conn)
        return
    for attempt in range(20):
        try:
            with db.connect() as conn:
                # pysqlite would run DDL outside any transaction: take the write lock first
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                upgrade(conn)
                for statement in _SQLITE_APPEND_ONLY:
                    conn.execute(text(statement))
                conn.commit()
            return
        except OperationalError as exc:
            if "locked" not in str(exc) or attempt == 19:
                raise
            time.sleep(random.uniform(0.005, 0.05))


def include_name(name: str | None, type_: str, parent_names) -> bool:
    """Only our tables: the APScheduler job store shares the database but is not ours."""
    if type_ == "table":
        return name in SQLModel.metadata.tables
    return True


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config for this package; with `connection`, env.py migrates on it."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(SCRIPT_LOCATION))
    config.attributes["connection"] = connection
    return config


def upgrade(connection: Connection) -> None:
    """Bring the schema to the newest revision, in the caller's transaction."""
    current = _current_heads(connection)
    if current == {HEAD}:
        # up to date, the usual start: decided without loading Alembic and the revision files
        # (quick, and quiet: Alembic logs each run at INFO)
        return
    # importing alembic registers its autogenerate plugins with an INFO line each, and it
    # says each revision it runs in several lines: one line of ours says what changed
    for noisy in ("alembic.runtime.plugins", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from alembic import command

    config = alembic_config(connection)
    if not current:
        present = set(inspect(connection).get_table_names()) & BASELINE_TABLES
        if present:
            _stamp_pre_alembic(config, present)
    command.upgrade(config, "head")
    log.info("database schema at revision %s (was %s)", HEAD, ", ".join(sorted(current)) or "empty")


def _current_heads(connection: Connection) -> set[str]:
    """The revisions recorded in the database (read directly: Alembic's MigrationContext logs
    two INFO lines each time, on every start)."""
    if not inspect(connection).has_table(VERSION_TABLE):
        return set()
    rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))
    return {row[0] for row in rows}


def _stamp_pre_alembic(config: Config, present: set[str]) -> None:
    """A database of a release before Alembic: every start created all tables (create_all), so
    it holds the first revision's schema: record that instead of creating the tables again.
    A database with only some of them was not made by such a release: refuse to guess."""
    from alembic import command

    missing = sorted(BASELINE_TABLES - present)
    if missing:
        raise RuntimeError(
            "the database was created before schema migrations (no alembic_version table) but "
            f"lacks tables of that schema, missing: {', '.join(missing)}; "
            "not migrating it automatically"
        )
    command.stamp(config, BASELINE)
