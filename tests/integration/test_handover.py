"""Exact offset handover: a moved group resumes on the target with no duplicate and no loss."""

from __future__ import annotations

import httpx
import pytest
from confluent_kafka import Consumer

from bot.errors import UserError
from bot.kafka.cluster import Cluster
from bot.kafka.groups import committed_offsets, end_offsets
from bot.kafka.handover import (
    EXACT,
    TRANSLATED,
    UNKNOWN,
    apply_handover,
    plan_handover,
    read_checkpoints,
)
from bot.kafka.naming import TopicNaming
from bot.kafka.progress import replication_progress
from tests.kafka_helpers import commit, consume, create_topic, produce, read_from
from tests.mm2 import (
    Connectors,
    checkpoint_connector,
    mm2_offsets,
    source_connector,
    wait_for,
)


def test_group_moves_to_the_target_with_zero_duplicates_and_zero_loss(sandbox, unique):
    src, tgt = sandbox.source.client_config(), sandbox.target.client_config()
    source, target = Cluster("source", src), Cluster("target", tgt)
    topic, app, lagging = f"handover-{unique}", f"app-{unique}", f"lagging-{unique}"
    create_topic(src, topic, 2)
    produce(src, topic, [(f"k{i}".encode(), f"old-{i}".encode(), []) for i in range(200)])
    assert len(consume(src, topic, app, 200)) == 200  # the app read everything on the source
    commit(source, lagging, {(topic, 0): 30, (topic, 1): 20})

    connectors = Connectors(sandbox.connect_url)
    try:
        connectors.put(f"mm2-{unique}", source_connector(sandbox, [topic]))
        connectors.put(f"mm2-cp-{unique}", checkpoint_connector(sandbox, [app, lagging], [topic]))
        partitions = [(topic, 0), (topic, 1)]

        def drained():
            with httpx.Client(base_url=sandbox.connect_url, timeout=10) as client:
                replicated = mm2_offsets(client, f"mm2-{unique}")
            return replicated and replication_progress(source, replicated, partitions).lag == 0

        wait_for(drained, 120, "replication lag 0")
        # MM2 keeps sparse offset syncs, so it may translate only some partitions (pitfall 1)
        checkpoints = wait_for(
            lambda: (
                (cps := read_checkpoints(target, TopicNaming()))
                and any((lagging, topic, p) in cps for p in (0, 1))
                and cps
            ),
            90,
            "an MM2 checkpoint for the lagging group",
        )

        def plan(**kw):
            found = plan_handover(
                source, target, [topic], [app, lagging], checkpoints=checkpoints, **kw
            )
            return {p.group: p for p in found}

        plans = plan(count_limit=10)  # the lagging group counts as too far behind: MM2's turn
        target_ends = end_offsets(target, partitions)
        assert plans[app].exact
        assert {(r.partition, r.target_offset) for r in plans[app].offsets} == {
            (p, target_ends[(topic, p)]) for p in (0, 1)
        }
        assert TRANSLATED in plans[lagging].kinds and EXACT not in plans[lagging].kinds
        for row in plans[lagging].offsets:
            if row.kind == TRANSLATED:
                assert row.target_offset <= row.source_committed  # never skips records
                assert row.duplicates == row.source_committed - row.target_offset
            else:
                assert row.kind == UNKNOWN and row.target_offset is None

        # a consumer of the group already running on the target blocks the handover
        early = Consumer({**tgt, "group.id": app, "enable.auto.commit": False})
        early.subscribe([topic])
        wait_for(lambda: early.poll(0.2) is None and early.assignment(), 30, "early assignment")
        with pytest.raises(UserError, match=f"already running on the target for: {app}"):
            apply_handover(target, list(plans.values()))
        early.close()
        assert committed_offsets(target, [app])[app] == {}  # nothing was written

        # within reach (the default), the part-way group is located exactly on the target
        plans = plan()
        assert plans[lagging].kinds == {EXACT: 2}
        assert {(r.partition, r.target_offset) for r in plans[lagging].offsets} == {
            (0, 30),
            (1, 20),
        }
        wait_for(lambda: apply_handover(target, list(plans.values())) is None, 30, "handover")
        written = committed_offsets(target, [app, lagging])
        assert written[app] == {(topic, r.partition): r.target_offset for r in plans[app].offsets}

        # producers move: new records on the target; each group resumes exactly where it stood
        unread = read_from(src, {(topic, 0): 30, (topic, 1): 20})
        produce(tgt, topic, [(f"k{i}".encode(), f"new-{i}".encode(), []) for i in range(50)])
        new = [f"new-{i}".encode() for i in range(50)]
        resumed = consume(tgt, topic, app, 50, settle=2.0)
        assert sorted(resumed) == sorted(new)
        assert plans[app].kinds == {EXACT: 2}
        late = consume(tgt, topic, lagging, len(unread) + 50, settle=2.0)
        assert len(unread) == 150 and sorted(late) == sorted(unread + new)  # 0 lost, 0 twice
    finally:
        connectors.close()


def test_part_way_groups_on_transactional_and_compacted_topics_resume_exactly(sandbox, unique):
    """Aborted records and markers take source offsets MirrorMaker 2 (read_committed) never
    copies, and tombstones are records like any other: a group that stopped part-way is still
    located exactly on the target, and resumes there with nothing lost and nothing twice."""
    from tests.integration.test_replication import transactions

    src, tgt = sandbox.source.client_config(), sandbox.target.client_config()
    source, target = Cluster("source", src), Cluster("target", tgt)
    txn, compacted = f"hx-txn-{unique}", f"hx-cmp-{unique}"
    create_topic(src, txn, 1)
    create_topic(src, compacted, 1, {"cleanup.policy": "compact"})
    transactions(src, txn, f"hx-{unique}", ("commit", "abort", "commit", "abort", "commit"))
    produce(
        src,
        compacted,
        [(f"k{i % 7}".encode(), None if i % 5 == 4 else f"v{i}".encode(), []) for i in range(40)],
    )
    group = f"partway-{unique}"
    # the group read 7 committed records of the transactional topic (offsets 0-4, then 12-13:
    # 5-11 are a commit marker, 5 aborted records and their abort marker) and 17 of the other
    commit(source, group, {(txn, 0): 14, (compacted, 0): 17})
    unread = read_from({**src, "isolation.level": "read_committed"}, {(txn, 0): 14})
    unread += read_from(src, {(compacted, 0): 17})
    assert len(unread) == 8 + 23  # 3 + 5 committed records; 23 (tombstones included)

    connectors = Connectors(sandbox.connect_url)
    try:
        connectors.put(
            f"mm2-hx-{unique}",
            source_connector(
                sandbox, [txn, compacted], **{"source.consumer.isolation.level": "read_committed"}
            ),
        )

        def copied():
            with httpx.Client(base_url=sandbox.connect_url, timeout=10) as client:
                replicated = mm2_offsets(client, f"mm2-hx-{unique}")
            parts = [(txn, 0), (compacted, 0)]
            return (
                replicated
                and replication_progress(source, replicated, parts, read_committed=True).lag == 0
            )

        wait_for(copied, 120, "replication lag 0")
        plans = plan_handover(source, target, [txn, compacted], [group])
        assert plans[0].kinds == {EXACT: 2}
        at = {r.topic: r.target_offset for r in plans[0].offsets}
        assert at[txn] == 7 and at[compacted] == 17  # 15 copied, 8 left; 40 copied, 23 left
        apply_handover(target, plans)
        resumed = consume(tgt, txn, group, 8, settle=1.0)
        resumed += consume(tgt, compacted, group, 23, settle=1.0)
        assert sorted(resumed, key=lambda v: v or b"") == sorted(unread, key=lambda v: v or b"")
    finally:
        connectors.close()
