"""Fixtures of the fast tests: a database, a store, an engine on a config without Kafka."""

from __future__ import annotations

import pytest

from bot import config
from bot.db import open_database
from bot.dbmigrations import init_db
from bot.migration.engine import Engine
from bot.migration.notify import LogNotifier
from bot.migration.steps import Status, Step
from bot.migration.store import Store
from bot.models import Migration

CONFIG = """
[clusters.src]
bootstrap_servers = "127.0.0.1:1"
[clusters.dst]
bootstrap_servers = "127.0.0.1:2"
[replicators.mm2]
kind = "connect"
url = "http://127.0.0.1:3"
[slack]
channel = "C1"
approvers = ["U0BOB", "S0SRE"]
[cli]
approvers = ["carol"]
"""


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


def migration(mid: str = "orders-abc", topics=("orders", "payments"), **extra) -> Migration:
    fields = dict(
        id=mid,
        name="orders",
        source="src",
        target="dst",
        replicator="mm2",
        topics="orders,payments",
        step=Step.PREFLIGHT,
        status=Status.ACTIVE,
        requested_by="U0ALICE",
        selected_topics=list(topics),
    )
    fields.update(extra)
    return Migration(**fields)
