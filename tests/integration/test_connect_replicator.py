"""The Kafka Connect replicator against the sandbox's real Connect worker."""

from __future__ import annotations

import re

import pytest

from bot.kafka.cluster import Cluster
from bot.kafka.groups import end_offsets
from bot.replicators.base import FlowSpec, ReplicatorError
from bot.replicators.connect import ConnectReplicator
from tests.kafka_helpers import create_topic, produce
from tests.mm2 import wait_for


def test_ensure_is_idempotent_and_the_flow_can_pause_resume_delete(sandbox, unique):
    src, tgt = sandbox.source.client_config(), sandbox.target.client_config()
    topic = f"flow-{unique}"
    create_topic(src, topic, 2)
    produce(src, topic, [(None, f"r{i}".encode(), []) for i in range(100)])
    replicator = ConnectReplicator(sandbox.connect_url)
    flow = FlowSpec(
        name=f"km-flow-{unique}",
        source=src,
        target=tgt,
        topics=[re.escape(topic)],
        groups=[],
        offset_syncs_location="target",
    )
    try:
        parts = replicator.ensure(flow)
        wait_for(lambda: replicator.status(flow).running, 90, "flow running")

        def tasks() -> dict:
            return {
                p: replicator.client.get(f"/connectors/{p}/status").json()["tasks"] for p in parts
            }

        seen: list[dict] = []

        def settled() -> bool:  # every task started and running, twice alike
            now = tasks()
            running = all(t["state"] == "RUNNING" for ts in now.values() for t in ts)
            same = bool(seen) and seen[-1] == now
            seen.append(now)
            return running and same

        wait_for(settled, 60, "tasks settled", every=1)
        before = seen[-1]
        assert replicator.ensure(flow) == parts  # same config: nothing put, nothing restarted
        assert before == tasks()
        wait_for(
            lambda: sum(o + 1 for o in replicator.replicated_offsets(flow).values()) == 100,
            90,
            "100 records copied",
        )
        assert sum(end_offsets(Cluster("t", tgt), [(topic, 0), (topic, 1)]).values()) == 100

        replicator.pause(flow)
        wait_for(lambda: set(replicator.status(flow).parts.values()) == {"PAUSED"}, 60, "paused")
        assert not replicator.status(flow).running
        replicator.resume(flow)
        wait_for(lambda: replicator.status(flow).running, 60, "resumed")
    finally:
        replicator.delete(flow)
    wait_for(lambda: set(replicator.status(flow).parts.values()) == {"MISSING"}, 30, "deleted")


def test_connect_errors_are_named():
    replicator = ConnectReplicator("http://127.0.0.1:9")  # nothing listens there
    flow = FlowSpec(
        name="km-x",
        source={"bootstrap.servers": "h:1"},
        target={"bootstrap.servers": "h:2"},
        topics=["a"],
    )
    with pytest.raises(ReplicatorError, match="Kafka Connect at http://127.0.0.1:9: GET"):
        replicator.status(flow)


def test_a_failed_connector_is_reported_with_the_workers_error_and_can_be_restarted(
    sandbox, unique
):
    """A connector (not a task) that FAILED: its trace's first line and root cause."""
    src, tgt = sandbox.source.client_config(), sandbox.target.client_config()
    replicator = ConnectReplicator(sandbox.connect_url)
    broken = {**tgt, "security.protocol": "SSL", "ssl.ca.location": "/nonexistent/ca.pem"}
    flow = FlowSpec(name=f"km-broken-{unique}", source=src, target=broken, topics=["x"], groups=[])
    try:
        replicator.ensure(flow)
        status = wait_for(
            lambda: (s := replicator.status(flow)).errors and s, 60, "a connector FAILED"
        )
        assert not status.running and "FAILED" in status.parts.values()
        failed = [e for e in status.errors if e.startswith(f"km-broken-{unique}-")]
        assert failed and all("NoSuchFileException: /nonexistent/ca.pem" in e for e in failed)
        replicator.restart(flow)  # what retry does: accepted by the worker, fails again here
        wait_for(lambda: replicator.status(flow).errors, 60, "still failed: nothing was fixed")
    finally:
        replicator.delete(flow)
