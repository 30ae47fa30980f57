"""A migration of many topics and groups at once: every group is handed over exactly.

100 topics x 5 partitions (500 partitions), 100 consumer groups without members, each on two
topics: half caught up, a quarter part-way (the middle of each partition), a quarter stale
(stopped after the first record). A `kafka-migrate serve` process moves the one migration of it
all; the gates are approved and the people's steps after the handover skipped through the CLI.
Every group's committed offsets on the target are then what the exact handover gives: the
target end minus the records the group had left on the source (the same offsets here, the
topics being fresh and copied with the identity policy). Figures and timings at 10,000
partitions are bench/scale.py's business, not a test's.
"""

from __future__ import annotations

import json

import pytest
from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic

from bot.kafka.cluster import Cluster, KafkaOpError
from bot.kafka.groups import committed_offsets, end_offsets
from tests.e2e.harness import Workspace
from tests.kafka_helpers import commit
from tests.waits import wait_for

pytestmark = pytest.mark.sandbox
TOPICS, PARTITIONS, GROUPS, RECORDS = 100, 5, 100, 6
STANDS = {"caught up": RECORDS, "part-way": RECORDS // 2, "stale": 1}
KINDS = ("caught up", "caught up", "part-way", "stale")


def answers(cluster: Cluster, partitions: list) -> bool:
    """Whether every partition answers ListOffsets (new ones have no leader for a moment)."""
    try:
        return len(end_offsets(cluster, partitions)) == len(partitions)
    except KafkaOpError:
        return False


@pytest.fixture
def estate(sandbox, unique):
    """The topics (records unique per partition) and the groups' commits on the source;
    topics and groups removed from both clusters after."""
    conf = sandbox.source.client_config()
    source = Cluster("source", conf)
    topics = [f"scale-{unique}-{i:03d}" for i in range(TOPICS)]
    admin = AdminClient(conf)
    for future in admin.create_topics([NewTopic(t, PARTITIONS, 1) for t in topics]).values():
        future.result(timeout=120)
    everything = [(t, p) for t in topics for p in range(PARTITIONS)]
    wait_for(lambda: answers(source, everything), 180, "every new partition with a leader")
    producer = Producer({**conf, "linger.ms": 20, "enable.idempotence": True})
    for t, p in everything:
        for r in range(RECORDS):
            producer.produce(t, key=f"{t}/{p}/{r}".encode(), value=b"v%d" % r, partition=p)
    assert producer.flush(120) == 0
    assert set(end_offsets(source, everything).values()) == {RECORDS}
    groups = {}
    for i in range(GROUPS):
        stands = STANDS[KINDS[i % len(KINDS)]]
        mine = (topics[i % TOPICS], topics[(i + 1) % TOPICS])  # two groups on each partition
        groups[f"scale-{unique}-g{i:03d}"] = {
            (t, p): stands for t in mine for p in range(PARTITIONS)
        }
    for group, offsets in groups.items():
        commit(source, group, offsets, timeout=120)
    yield topics, groups
    for side in (sandbox.source, sandbox.target):
        admin = AdminClient(side.client_config())
        present = set(admin.list_topics(timeout=30).topics)
        gone = [t for t in topics if t in present]
        for future in admin.delete_topics(gone, operation_timeout=60).values() if gone else ():
            future.result(timeout=120)
        for future in admin.delete_consumer_groups(list(groups), request_timeout=60).values():
            future.exception(timeout=120)  # a group the side never had is fine


@pytest.fixture
def workspace(sandbox):
    ws = Workspace(sandbox, ready=0, quiet=3, drain=None)
    ws.serve()
    yield ws
    ws.stop_serve()


def test_every_group_of_a_large_migration_is_handed_over_exactly(sandbox, estate, workspace):
    topics, groups = estate
    ws = workspace
    prefix = topics[0].rsplit("-", 1)[0]
    mid = ws.start(
        f"scale source=sandbox-source target=sandbox-target topics={prefix}-.* "
        "via=sandbox-mm2 replication_policy=identity"
    )
    gate = ws.wait_gate(mid, "stop_producers", 600)
    ws.ok("approve", mid, "--version", str(gate["version"]), user="bob")
    gate = ws.wait_gate(mid, "repoint_clients", 600)
    ws.ok("approve", mid, "--version", str(gate["version"]), user="bob")
    for step in ("consumers_on_target", "producers_on_target"):  # no client runs here
        ws.wait_step(mid, step, 300)
        ws.ok("skip", mid, "--reason", "no client runs in this test")
    done = ws.wait(mid, lambda s: s["status"] == "complete", 600, "complete")

    source = Cluster("source", sandbox.source.client_config())
    target = Cluster("target", sandbox.target.client_config())
    partitions = [(t, p) for t in topics for p in range(PARTITIONS)]
    source_ends, target_ends = end_offsets(source, partitions), end_offsets(target, partitions)
    assert target_ends == source_ends  # every record copied, nothing more
    written = committed_offsets(target, list(groups))
    expected = {
        group: {tp: target_ends[tp] - (source_ends[tp] - off) for tp, off in offsets.items()}
        for group, offsets in groups.items()
    }
    wrong = {g: written.get(g) for g, want in expected.items() if written.get(g) != want}
    assert not wrong, f"{len(wrong)} group(s) not handed over exactly, e.g. {list(wrong)[:3]}"
    handover = json.loads(ws.ok("report", mid, "--json"))["handover"]
    assert {g: handover.get(g) for g in groups} == {g: {"exact": 2 * PARTITIONS} for g in groups}
    assert done["step"] == "complete"
