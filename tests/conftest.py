"""Shared fixtures. The Kafka + MirrorMaker 2 sandbox starts once per test session.

Set KAFKA_MIGRATE_SANDBOX_DIR to the directory of a sandbox started with
`kafka-migrate sandbox up --dir DIR` to reuse it across runs (it is then left running).
Run the fast tests alone with `pytest -m "not sandbox"`.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
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
    if reuse and int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
        pytest.fail(
            f"KAFKA_MIGRATE_SANDBOX_DIR={reuse} with several workers: the fault tests freeze "
            "its brokers and stop its Connect worker under the other workers' tests; run one "
            "worker (-n 0) on a shared sandbox, or leave the variable unset (a sandbox each)"
        )
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
def heartbeats_removed(sandbox):
    """MM2 copies every heartbeats topic whatever a flow's topics (IdentityReplicationPolicy
    names them as the default policy does): the reverse flow creates `target.heartbeats` (and
    more) on the sandbox's source. Those it created are removed after the test: the flows of
    later tests would copy them on, and count them."""
    conf = sandbox.source.client_config()
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(conf)
    before = set(admin.list_topics(timeout=30).topics)
    yield
    made = [t for t in admin.list_topics(timeout=30).topics if t not in before]
    copied = [t for t in made if t.endswith("heartbeats")]
    if copied:
        from tests.kafka_helpers import delete_topics

        delete_topics(conf, copied)


@pytest.fixture
def unique():
    """A short unique suffix for topic, group and connector names."""
    return uuid.uuid4().hex[:8]


BIN = Path("/usr/lib/postgresql/15/bin")


def _as_postgres(*command: str) -> subprocess.CompletedProcess:
    prefix = ["runuser", "-u", "postgres", "--"] if shutil.which("runuser") else []
    return subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def postgres_url():
    """A real PostgreSQL server of its own (initdb/pg_ctl, as the postgres account), its URL."""
    initdb = shutil.which("initdb") or str(BIN / "initdb")
    if not Path(initdb).exists():
        pytest.skip("no PostgreSQL server on this machine (initdb not found)")
    root = Path(tempfile.mkdtemp(prefix="km-pg-"))  # the server runs as postgres: its own dir
    account = pwd.getpwnam("postgres")
    os.chown(root, account.pw_uid, account.pw_gid)
    data = root / "data"
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    done = _as_postgres(initdb, "-D", str(data), "-U", "km", "--auth=trust", "-E", "UTF8")
    assert done.returncode == 0, done.stderr
    pg_ctl = shutil.which("pg_ctl") or str(BIN / "pg_ctl")
    started = _as_postgres(
        pg_ctl,
        "-D",
        str(data),
        "-w",
        "-l",
        str(data / "log"),
        "-o",
        f"-p {port} -k {data} -c listen_addresses=127.0.0.1",
        "start",
    )
    assert started.returncode == 0, started.stderr + started.stdout
    try:
        yield f"postgresql://km@127.0.0.1:{port}/postgres"
    finally:
        _as_postgres(pg_ctl, "-D", str(data), "-m", "fast", "stop")
        shutil.rmtree(root, ignore_errors=True)
