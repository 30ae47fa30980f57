"""Shared fixtures. The Kafka + MirrorMaker 2 sandbox starts once per test session.

Set KAFKA_MIGRATE_SANDBOX_DIR to the directory of a sandbox started with
`kafka-migrate sandbox up --dir DIR` to reuse it across runs (it is then left running).
Run the fast tests alone with `pytest -m "not sandbox"`.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from bot import sandbox as sandbox_mod


def pytest_collection_modifyitems(items):
    for item in items:
        if "sandbox" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.sandbox)


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory):
    reuse = os.environ.get("KAFKA_MIGRATE_SANDBOX_DIR")
    if reuse:
        box = sandbox_mod.load(reuse)
        if box is None or not all(box.running().values()):
            pytest.fail(f"KAFKA_MIGRATE_SANDBOX_DIR={reuse}: no running sandbox there")
        yield box
        return
    directory = Path(tmp_path_factory.mktemp("sandbox"))
    box = sandbox_mod.up(directory)
    try:
        yield box
    finally:
        sandbox_mod.down(directory)


@pytest.fixture
def unique():
    """A short unique suffix for topic, group and connector names."""
    return uuid.uuid4().hex[:8]
