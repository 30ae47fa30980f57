"""Fixtures of the fast tests: a database, a store, an engine on a config without Kafka."""

from __future__ import annotations

import pytest

from bot import config
from bot.db import open_database
from bot.dbmigrations import init_db
from bot.migration.engine import Engine
from bot.migration.notify import LogNotifier
from bot.migration.store import Store
from tests.support import CONFIG


@pytest.fixture
def store(tmp_path):
    db = open_database(f"sqlite:///{tmp_path / 'km.db'}")
    init_db(db)
    return Store(db)


@pytest.fixture
def engine(tmp_path, store):
    path = tmp_path / "km.toml"
    path.write_text(CONFIG)
    return Engine(config.load(path), store, LogNotifier())
