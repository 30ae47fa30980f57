"""A write on the source during the soak that did not come from the reverse flow is an alert,
the rollback is decided with it in its figures, and a cancel during the rollback says what it
undoes, then deletes the reverse flow (the CLI and a real `serve` process)."""

from __future__ import annotations

import pytest

from bot.kafka.cluster import Cluster
from bot.kafka.groups import end_offsets
from tests.e2e.harness import LiveProducer, Workspace
from tests.kafka_helpers import create_topic, produce
from tests.rollback_helpers import BACK, Watcher, approve, ours
from tests.waits import wait_for

pytestmark = [pytest.mark.sandbox, pytest.mark.usefixtures("heartbeats_removed")]


def test_a_write_on_the_source_during_the_soak_is_an_alert(sandbox, tmp_path, unique):
    src, tgt = sandbox.source.client_config(), sandbox.target.client_config()
    topic = f"rbf-{unique}"
    create_topic(src, topic, 2)
    produce(src, topic, [(None, f"s{i}".encode(), [], i % 2) for i in range(20)])
    source = Cluster("source", src)
    ws = Workspace(sandbox, tmp_path, quiet=3, drain=2)
    ws.serve()
    watcher = producer = None
    try:
        mid = ws.start(
            f"rbf source=sandbox-source target=sandbox-target topics={topic} via=sandbox-mm2 "
            + BACK
        )
        watcher = Watcher(sandbox, mid)
        watcher.start()
        approve(ws, mid, "stop_producers")
        approve(ws, mid, "repoint_clients")
        ws.wait_step(mid, "producers_on_target")
        cut = {(t, int(p)): o for t, p, o in ws._store.get(mid).state.quiet_offsets}
        produce(tgt, topic, [(None, f"t{i}".encode(), [], i % 2) for i in range(6)])
        ws.wait_step(mid, "soak", 120)
        wait_for(
            lambda: end_offsets(source, sorted(cut)) == {tp: o + 3 for tp, o in cut.items()},
            90,
            "the target's records copied back",
        )
        # a forgotten producer writes to the source itself, on partition 1
        produce(src, topic, [(None, f"forgotten{i}".encode(), [], 1) for i in range(7)])
        alerted = ws.wait(
            mid,
            lambda s: (
                f"did not come from the reverse flow: {topic}[1] +7" in (s["waiting_for"] or "")
            ),
            60,
            "the foreign writes seen",
        )
        said = alerted["waiting_for"]
        assert f"{topic}[1] +7" in said and f"{topic}[0]" not in said, said
        assert alerted["foreign_writes"] == [[topic, 1, 7]]
        line = (
            f"[{mid}] alert: records written on the source that did not come from the reverse "
            f"flow: {topic}[1] (a producer"
        )
        wait_for(lambda: line in ws.serve_log.read_text(), 30, "the alert announced")

        ws.ok("rollback", mid)
        gate = ws.wait_gate(mid, "rollback")
        assert gate["gate"]["decided"]["foreign_writes"] == [[topic, 1, 7]], gate["gate"]
        # a producer still writes to the target: the rollback holds at its first step
        producer = LiveProducer(tgt, topic, "late", rate_per_s=20)
        producer.start()
        ws.ok("approve", mid, "--version", str(gate["version"]), user="bob")
        ws.wait(
            mid,
            lambda s: (
                s["step"] == "target_producers_stopped"
                and "stop producers on the target" in (s["waiting_for"] or "")
            ),
            60,
            "the rollback waiting for the target's producers",
        )
        asked = ws.cli("cancel", mid)  # says what it would undo, does nothing
        assert asked.returncode == 2 and "Nothing was done: add --yes" in asked.stderr
        assert (
            "delete the reverse flow (nothing is copied back to the source any more" in asked.stderr
        ), asked.stderr
        assert ours(sandbox, mid) == [f"km-{mid}-back-source"]
        assert ws.peek(mid)["status"] == "active"
        out = ws.ok("cancel", mid, "--yes")
        assert "cancelled" in out, out
        wait_for(lambda: ours(sandbox, mid) == [], 30, "the reverse flow deleted")
        status = ws.status(mid)
        assert status["status"] == "cancelled"
        assert "reverse flow deleted" in status["reason"], status["reason"]
    finally:
        if producer is not None:
            producer.stop()
        if watcher is not None:
            watcher.stop()
        ws.stop_serve()
    assert watcher.looks > 20 and watcher.seen_back and watcher.both == []
    assert watcher.most_back == 1
