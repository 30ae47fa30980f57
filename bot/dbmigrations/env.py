"""Alembic's entry point for this package's revisions.

`init_db` passes its open connection in `config.attributes["connection"]`; the `alembic`
command line (alembic.ini at the repository root) connects to $DATABASE_URL (or
`sqlalchemy.url`, else the default SQLite file) with the bot's own connection settings.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from bot.dbmigrations import include_name

config = context.config
target_metadata = SQLModel.metadata


def _configure(**kwargs) -> None:
    context.configure(
        target_metadata=target_metadata,
        include_name=include_name,
        compare_type=True,
        **kwargs,
    )


def _run(connection: Connection) -> None:
    # SQLite alters tables by copying them ("batch"); PostgreSQL alters in place
    _configure(connection=connection, render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    from bot.db import database_url

    _configure(
        url=database_url(config.get_main_option("sqlalchemy.url") or None),
        literal_binds=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from bot.db import open_database

    db = open_database(config.get_main_option("sqlalchemy.url") or None)
    try:
        with db.begin() as conn:
            _run(conn)
    finally:
        db.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
