"""The whole runbook through the CLI, with a live producer and a live consumer group.

A `kafka-migrate serve` process moves the migration; people act through the CLI as alice (who
starts it) and bob (an approver). The consumer group moves to the target and resumes with no
duplicate and no loss, checked by record content.
"""

from __future__ import annotations

import socket

import httpx
import pytest
from confluent_kafka import KafkaError

from bot.kafka.acls import Acl
from bot.kafka.cluster import Cluster
from bot.kafka.groups import end_offsets
from tests.e2e.harness import LiveConsumer, LiveProducer, Workspace
from tests.integration.test_acls_fence import grant
from tests.kafka_helpers import commit, create_topic, group_at_end, group_committed, read_from

pytestmark = pytest.mark.sandbox


@pytest.fixture
def workspace(sandbox, tmp_path):
    ws = Workspace(sandbox, tmp_path, ready=2000, quiet=None, drain=None)  # shipped windows
    ws.serve()
    yield ws
    ws.stop_serve()


def test_cutover_with_live_clients_moves_the_group_exactly(sandbox, workspace, unique):
    ws = workspace
    src, tgt = sandbox.source.client_config(), sandbox.target.client_config()
    topic, group = f"shop-{unique}", f"billing-{unique}"
    create_topic(src, topic, 3)
    # the producer is a principal with a WRITE grant (not a super user): fence=yes denies it
    grant(
        Cluster("source", src),
        [Acl("TOPIC", topic, "LITERAL", "User:alice", "*", "WRITE", "ALLOW")],
    )
    producer = LiveProducer(sandbox.source.client_config("alice"), topic, "old")
    consumer = LiveConsumer(src, topic, group)
    producer.start()
    consumer.start()
    source = Cluster("source", src)
    group_committed(source, group, [(topic, p) for p in range(3)])  # preflight must find it
    # a group that stopped part-way (no members): never waited for, handed over exactly
    analytics = f"analytics-{unique}"
    ends = end_offsets(source, [(topic, p) for p in range(3)])
    halves = {tp: end // 2 for tp, end in ends.items()}
    commit(source, analytics, halves)
    read_by_analytics = read_from(src, {tp: 0 for tp in halves}, until=halves)

    mid = ws.start(
        f"shop source=sandbox-source target=sandbox-target topics={topic} "
        "via=sandbox-mm2 replication_policy=identity fence=yes"
    )
    early = ws.cli("approve", mid, "--version", "1", "--step", "stop_producers", user="bob")
    # refused either way, by when it lands: before the gate (not open), or once the gate is
    # already open at a later version (the approval names version 1: stale)
    assert early.returncode == 2 and (
        "stop_producers is not open for approval" in early.stderr
        or "stale approval: you saw version 1," in early.stderr
    ), early.stderr

    again = ws.cli(
        "start",
        "shop2",
        "source=sandbox-source",
        "target=sandbox-target",
        f"topics={topic}",
        "via=sandbox-mm2",
    )
    assert again.returncode == 2 and f"{topic} (by {mid})" in again.stderr

    gate = ws.wait_gate(mid, "stop_producers", 180)
    version = str(gate["version"])
    decided = gate["gate"]["decided"]  # the figure approvers decide on, with its time
    assert 0 <= decided["replication_lag"] <= 2000 and decided["at"] > 0
    shown = ws.ok("status", mid)
    assert f"at decision: {decided['replication_lag']:,} records" in shown
    assert "approvers decide with: kafka-migrate approve|reject" in shown
    assert group in gate["groups"]
    refusals = {
        "alice": ("cli:km-alice requested this migration and cannot approve it", version),
        "carol": ("cli:km-carol is not an approver", version),
        "bob": ("stale approval", str(gate["version"] - 1)),
    }
    for user, (reason, shown) in refusals.items():
        result = ws.cli("approve", mid, "--version", shown, user=user)
        assert result.returncode == 2 and reason in result.stderr, result.stderr
    assert ws.status(mid)["step"] == "stop_producers"  # refusals changed nothing

    assert "approved by cli:km-bob" in ws.ok("approve", mid, "--version", version, user="bob")
    ws.wait_reached(mid, "producers_stopped", 60)  # a few fast looks: it may be past it already
    # the fence refuses the producer's writes once the brokers show it: quiet over a few looks,
    # not the 120 s window (this wait is shorter than the window); the team stops it after
    ws.wait_step(mid, "consumers_stopped", 90)
    producer.stop()
    assert producer.refused is not None  # the fence refused its writes
    assert producer.refused.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED
    ws.peek(mid)  # opens the store
    said = {r.step: r.detail.get("message", "") for r in ws._store.step_runs(mid)}
    assert "DENY binding(s) visible) and no write" in said["producers_stopped"], said
    consumer.stop()  # consumers read everything (drain) and now stop
    gate = ws.wait_gate(mid, "repoint_clients", 120)
    assert gate["gate"]["preview"][group]["kinds"] == {"exact": 3}
    assert gate["gate"]["preview"][analytics]["kinds"] == {"exact": 3}
    ws.ok("approve", mid, "--version", str(gate["version"]), user="bob")

    ws.wait_step(mid, "consumers_on_target", 60)
    moved = LiveConsumer(tgt, topic, group)
    moved.start()
    resumed = LiveConsumer(tgt, topic, analytics)
    resumed.start()
    ws.wait_step(mid, "producers_on_target", 60)
    on_target = LiveProducer(tgt, topic, "new", rate_per_s=200)
    on_target.start()
    done = ws.wait(mid, lambda s: s["status"] == "complete", 120, "complete")
    on_target.stop()
    target = Cluster("target", tgt)
    partitions = [(topic, p) for p in range(3)]
    group_at_end(target, group, partitions)  # every record there is reached it: duplicates too
    group_at_end(target, analytics, partitions)
    moved.stop()
    resumed.stop()

    produced = producer.acked + on_target.acked
    consumed = consumer.values + moved.values
    assert len(producer.acked) > 100 and len(on_target.acked) > 0
    assert sorted(consumed) == sorted(produced)  # every record once: no loss, no duplicate
    assert all(v.startswith(b"new-") for v in moved.values)
    left = sorted(set(produced) - set(read_by_analytics))
    assert len(read_by_analytics) > 0 and sorted(resumed.values) == left  # exactly where it stood

    assert {s["step"]: s["state"] for s in done["steps"]}["verify"] == "done"
    report = ws.ok("report", mid)
    assert "MirrorMaker 2 connectors deleted" in report
    assert "stop_producers approved by cli:km-bob from cli" in report
    assert "repoint_clients approved by cli:km-bob from cli" in report
    host = socket.gethostname()
    assert f"cli:km-bob (on {host}): stop_producers approved by cli:km-bob from cli" in report
    assert f"cli:km-alice (on {host}): migration {mid} created" in report
    assert f"cli:km-carol (on {host}): cli:km-carol may not approve" in report
    with httpx.Client(base_url=sandbox.connect_url) as connect:
        mine = [c for c in connect.get("/connectors").json() if c.startswith(f"km-{mid}-")]
        assert mine == []  # complete deleted the flow
