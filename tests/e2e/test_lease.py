"""One process moves migrations: a second `serve` stands by on PostgreSQL and takes over when
the first dies; on SQLite it says another one is running."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest
from sqlalchemy.exc import DBAPIError
from sqlmodel import select

from bot.db import open_database, session_scope
from bot.models import Event, Lease
from tests.e2e.harness import Workspace
from tests.kafka_helpers import create_topic, produce
from tests.support import CONFIG

pytestmark = pytest.mark.sandbox


def serve(env: dict, log) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
    )


def holder(url: str) -> str | None:
    try:
        with session_scope(open_database(url)) as session:
            lease = session.exec(select(Lease)).first()
            return lease.holder if lease else None
    except DBAPIError:  # the tables are not there yet
        return None


def test_a_second_serve_on_the_same_sqlite_file_says_another_one_runs(tmp_path):
    (tmp_path / "km.toml").write_text(CONFIG)
    env = {
        **os.environ,
        "KAFKA_MIGRATE_CONFIG": str(tmp_path / "km.toml"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'km.db'}",
    }
    env.pop("SLACK_BOT_TOKEN", None)
    first = serve(env, (tmp_path / "first.log").open("w"))
    try:
        deadline = time.monotonic() + 30
        while holder(env["DATABASE_URL"]) is None and time.monotonic() < deadline:
            time.sleep(0.2)
        second = subprocess.run(
            [sys.executable, "-m", "bot", "serve"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 2
        assert f"another kafka-migrate serve ({holder(env['DATABASE_URL'])})" in second.stderr
        assert first.poll() is None  # the first one runs on
    finally:
        first.terminate()
        first.wait(30)


def test_the_standby_takes_over_when_the_leader_dies_and_nothing_is_done_twice(
    sandbox,
    postgres_url,  # noqa: F811 - the fixture imported above
    unique,
):
    src = sandbox.source.client_config()
    topic = f"lease-{unique}"
    create_topic(src, topic, 2)
    produce(src, topic, [(None, f"r{i}".encode(), []) for i in range(200)])
    ws = Workspace(sandbox, quiet=2, drain=1, ready=0)
    ws.env["DATABASE_URL"] = postgres_url
    logs = [(ws.root / f"serve-{n}.log").open("w") for n in (1, 2)]
    procs = [serve(ws.env, logs[0])]
    try:
        deadline = time.monotonic() + 30
        while holder(postgres_url) is None and time.monotonic() < deadline:
            time.sleep(0.2)
        procs.append(serve(ws.env, logs[1]))  # the standby
        mid = ws.start(
            f"lease source=sandbox-source target=sandbox-target topics={topic} via=sandbox-mm2"
        )
        ws.wait_reached(mid, "catch_up", 120)
        leader = holder(postgres_url)
        pid = int(leader.split(":")[1])
        assert pid == procs[0].pid
        os.kill(pid, signal.SIGKILL)  # no goodbye: the lease is not released
        procs[0].wait(30)
        killed_at = time.monotonic()
        deadline = killed_at + 40
        while holder(postgres_url) == leader and time.monotonic() < deadline:
            time.sleep(0.5)
        taken = time.monotonic() - killed_at
        assert holder(postgres_url).split(":")[1] == str(procs[1].pid)
        assert taken < 30, f"takeover took {taken:.0f}s"
        ws.wait_gate(mid, "stop_producers", 120)  # the new leader moves it on
        with session_scope(open_database(postgres_url)) as session:
            events = session.exec(select(Event).where(Event.migration_id == mid)).all()
        done = [e.step for e in events if e.kind == "step_done"]
        assert done.count("create_topics") == 1 and done.count("start_replication") == 1
        with httpx.Client(base_url=sandbox.connect_url) as connect:
            mine = [c for c in connect.get("/connectors").json() if c.startswith(f"km-{mid}-")]
        assert len(mine) == 3
        ws.ok("cancel", mid, "--yes")
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(30)
        ws.stop_serve()
