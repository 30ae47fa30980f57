"""SIGKILL `serve` between stopping the source connectors and creating their copies: after the
restart nothing is created twice, the states recorded before the stop are kept, and the offsets
copied to the target's Connect are those of the stop. Before that, the old Connect worker is
away for a while: the step holds degraded, naming it, and goes on once it is back."""

from __future__ import annotations

import json

import pytest

from bot import sandbox as sandbox_mod
from tests.connect_helpers import (
    GrowingFile,
    delete_all,
    file_source,
    offsets,
    state,
    wait_state,
    worker,
)
from tests.e2e.harness import Workspace
from tests.kafka_helpers import create_topic, read_from
from tests.waits import wait_for

pytestmark = pytest.mark.sandbox


def test_killed_between_the_stop_and_the_copies(sandbox, tmp_path, unique):
    old, new = worker(sandbox, "connect_source"), worker(sandbox, "connect")
    ws = Workspace(sandbox, tmp_path, quiet=8, drain=2, ready=500)
    topic = f"crashc-{unique}"
    create_topic(sandbox.source.client_config(), topic, 1)
    feed = ws.root / "in.txt"
    growing = GrowingFile(feed, "c", per_second=30)
    growing.start()
    source = f"file-crash-{unique}"
    try:
        file_source(old, source, feed, topic)
        wait_state(old, source, "RUNNING")
        ws.serve()
        mid = ws.start(
            f"crashc source=sandbox-source target=sandbox-target topics={topic} via=sandbox-mm2 "
            "connect_from=sandbox-connect-source connect_to=sandbox-connect-target"
        )
        gate = ws.wait_gate(mid, "stop_producers", 120)
        sandbox_mod.stop_connect(sandbox, "connect_source")  # the old Connect away a while
        ws.ok("approve", mid, "--version", str(gate["version"]), user="bob")
        held = ws.wait(mid, lambda s: "degraded" in (s["waiting_for"] or ""), 60, "held degraded")[
            "waiting_for"
        ]
        assert "Kafka Connect sandbox-connect-source" in held and "cannot reach" in held, held
        sandbox_mod.start_connect(sandbox, "connect_source")
        wait_state(old, source, "STOPPED")
        ws.wait(mid, lambda s: s["step"] == "producers_stopped", 30, "the quiet window")
        ws.kill_serve()  # stopped on the old Connect, no copy on the new one yet
        assert state(new, source) == "MISSING"
        stopped_at = offsets(old, source)
        wait_for(lambda: growing.written > 60, 30, "lines appended while stopped")

        ws.serve()
        gate = ws.wait_gate(mid, "repoint_clients", 120)
        assert offsets(new, source) == stopped_at  # the stop's offsets, not later ones
        assert state(new, source) == "STOPPED"
        recorded = ws._store.get(mid).state
        assert recorded.connectors_stopped == {source: "RUNNING"}  # not re-read as STOPPED
        assert recorded.connector_copies == [source]
        ws.ok("approve", mid, "--version", str(gate["version"]), user="bob")
        ws.wait(mid, lambda s: s["status"] == "complete", 180, "complete")
        status = ws.status(mid)
        assert [(c["name"], c["old_state"], c["new_state"]) for c in status["connectors"]] == [
            (source, "STOPPED", "RUNNING")
        ]

        written = growing.stop()
        target = sandbox.target.client_config()
        wait_for(lambda: len(read_from(target, {(topic, 0): 0})) == len(written), 60, "all lines")
        assert [v.decode() for v in read_from(target, {(topic, 0): 0})] == written
        timeline = json.loads(ws.ok("report", mid, "--json"))["timeline"]
        done = [
            e for e in timeline if e["kind"] == "step_done" and e["step"] == "consumers_stopped"
        ]
        assert len(done) == 1 and f"{source} STOPPED → STOPPED" in done[0]["message"]
    finally:
        growing.stop()
        ws.stop_serve()
        for url in (old, new):
            delete_all(url, "file-crash-")
