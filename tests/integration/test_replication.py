"""Replication progress and verification against a real MirrorMaker 2 on the sandbox.

One MM2 flow copies a plain topic, a transactional topic (committed and aborted transactions),
a compacted topic with tombstones, an empty topic and a topic whose start offset was moved by
deleteRecords; a second flow reads with isolation.level=read_committed.
"""

from __future__ import annotations

import time

import httpx
import pytest
from confluent_kafka import Producer, TopicPartition

from bot.kafka.cluster import Cluster
from bot.kafka.groups import end_offsets
from bot.kafka.progress import replication_progress
from bot.kafka.tails import Tails, copied_by_content
from bot.kafka.verify import verify
from bot.replicators.offsets import offsets_topic_offsets
from tests.kafka_helpers import create_topic, produce
from tests.mm2 import Connectors, mm2_offsets, source_connector, wait_for


def transactions(conf: dict, topic: str, txn_id: str, outcomes=("commit", "abort", "commit")):
    """Transactions of 5 records each, committed or aborted in the given order."""
    producer = Producer({**conf, "transactional.id": txn_id})
    producer.init_transactions(30)
    for outcome in outcomes:
        producer.begin_transaction()
        for i in range(5):
            producer.produce(
                topic, key=f"k{i}".encode(), value=f"{outcome}-{i}".encode(), partition=0
            )
        producer.flush(30)
        getattr(producer, f"{outcome}_transaction")(30)


@pytest.fixture(scope="module")
def flow(sandbox):
    import uuid

    tag = uuid.uuid4().hex[:6]
    src = sandbox.source.client_config()
    names = {
        k: f"{k}-{tag}" for k in ("plain", "txn", "compact", "empty", "truncated", "txnrc", "tail")
    }
    create_topic(src, names["plain"], 3)
    create_topic(src, names["txn"], 1)
    create_topic(src, names["txnrc"], 1)
    create_topic(src, names["tail"], 2, {"cleanup.policy": "compact"})
    create_topic(src, names["compact"], 2, {"cleanup.policy": "compact"})
    create_topic(src, names["empty"], 2)
    create_topic(src, names["truncated"], 1)
    produce(
        src,
        names["plain"],
        [(f"k{i}".encode(), f"v{i}".encode(), [("h", b"1")]) for i in range(300)],
    )
    transactions(src, names["txn"], f"txn-{tag}")
    transactions(src, names["txnrc"], f"txnrc-{tag}", ("commit", "commit", "abort"))
    produce(
        src,
        names["compact"],
        [(f"user{i % 7}".encode(), None if i % 5 == 0 else b"x" * i, []) for i in range(60)],
    )
    produce(src, names["truncated"], [(None, f"r{i}".encode(), []) for i in range(100)])
    # the same key and value again and again: only the producer's timestamps tell them apart
    produce(src, names["tail"], [(b"same", b"same", [], i % 2) for i in range(40)])
    source = Cluster("source", src)
    gather_deleted = source.admin.delete_records([TopicPartition(names["truncated"], 0, 40)])
    for future in gather_deleted.values():
        future.result(timeout=30)

    connectors = Connectors(sandbox.connect_url)
    main = f"mm2-progress-{tag}"
    rc = f"mm2-progress-rc-{tag}"
    topics = [names[k] for k in ("plain", "txn", "compact", "empty", "truncated")]
    connectors.put(main, source_connector(sandbox, topics))
    connectors.put(
        rc,
        source_connector(
            sandbox,
            [names["txnrc"], names["tail"]],
            **{"source.consumer.isolation.level": "read_committed"},
        ),
    )
    try:
        yield {
            "names": names,
            "topics": topics,
            "main": main,
            "rc": rc,
            "tag": tag,
            "connectors": connectors,
            "source": source,
            "target": Cluster("target", sandbox.target.client_config()),
        }
    finally:
        connectors.close()


def partitions_of(cluster: Cluster, topics: list[str]) -> list[tuple[str, int]]:
    meta = cluster.admin.list_topics(timeout=10)
    return [(t, p) for t in topics for p in meta.topics[t].partitions]


def caught_up(flow, connector: str, topics: list[str], read_committed: bool = False):
    with httpx.Client(base_url=flow["connectors"].client.base_url, timeout=10) as client:
        replicated = mm2_offsets(client, connector)
    progress = replication_progress(
        flow["source"],
        replicated,
        partitions_of(flow["source"], topics),
        read_committed=read_committed,
    )
    return progress if progress.lag == 0 and replicated else None


def test_progress_reaches_exactly_zero_despite_markers_empties_and_truncation(flow):
    progress = wait_for(
        lambda: caught_up(flow, flow["main"], flow["topics"]), 120, "replication lag 0"
    )
    rows = {(p.topic, p.partition): p for p in progress.partitions}
    names = flow["names"]
    txn = rows[(names["txn"], 0)]
    # offsets alone would say 1 behind forever: the trailing commit marker is never copied
    assert txn.end - txn.replicated_to == 1 and txn.lag == 0 and txn.exact
    assert rows[(names["empty"], 0)].lag == 0 and rows[(names["empty"], 0)].replicated_to is None
    truncated = rows[(names["truncated"], 0)]
    assert truncated.start == 40 and truncated.replicated_to == 100 and truncated.gap == 0
    assert progress.gaps == [] and progress.max_time_lag_s == 0


def test_read_committed_flow_counts_aborted_records_and_markers_as_no_lag(flow):
    topic = flow["names"]["txnrc"]
    progress = wait_for(
        lambda: caught_up(flow, flow["rc"], [topic], read_committed=True),
        120,
        "read_committed flow lag 0",
    )
    row = progress.partitions[0]
    # past the last copied record: its commit marker, 5 aborted records, their abort marker
    assert row.end - row.replicated_to == 7 and row.lag == 0
    target = read_values(flow["target"], topic)
    assert [v for v in target if v.startswith(b"abort")] == []
    assert len(target) == 10


def test_tails_say_copied_on_every_kind_of_topic_but_not_after_a_stray_write(flow):
    names, source, target = flow["names"], flow["source"], flow["target"]
    wait_for(lambda: caught_up(flow, flow["main"], flow["topics"]), 120, "replication lag 0")
    tail = [(names["tail"], 0), (names["tail"], 1)]
    wait_for(
        lambda: caught_up(flow, flow["rc"], [names["txnrc"], names["tail"]], read_committed=True),
        120,
        "read_committed flow lag 0",
    )
    main = partitions_of(source, flow["topics"])
    kept = Tails()  # as a migration keeps it across its looks: what moved is read again
    copied = copied_by_content(
        source, target, {tp: tp for tp in main}, read_committed=False, tails=kept
    )
    assert copied == {tp: True for tp in main}  # plain, transactional, compacted, empty, truncated
    committed = [(names["txnrc"], 0), *tail]
    for _look in range(2):  # the second look answers from what the first read
        copied = copied_by_content(
            source, target, {tp: tp for tp in committed}, read_committed=True, tails=kept
        )
        assert copied == {tp: True for tp in committed}

    # MM2's offsets where the bot cannot read them: the content decides, and the signal says why
    progress = replication_progress(
        source, {}, main, target=target, offsets_problem="no such topic", read_committed=False
    )
    assert progress.caught_up and progress.offsets_problem == "no such topic"
    written = {(p.topic, p.partition) for p in progress.partitions if p.end > p.start}
    assert {p.signal for p in progress.partitions if (p.topic, p.partition) in written} == {
        "content"
    }

    # a producer writes the very same key and value to the target too early: not a copy
    produce(target.client_config, names["tail"], [(b"same", b"same", [], 1)])
    copied = copied_by_content(
        source, target, {tp: tp for tp in tail}, read_committed=True, tails=kept
    )
    assert copied == {tail[0]: True, tail[1]: False}
    progress = replication_progress(
        source, {}, tail, target=target, read_committed=True, tails=kept
    )
    assert not progress.caught_up and [(p.topic, p.partition) for p in progress.unknown] == [
        tail[1]
    ]
    assert progress.lag == 0 and "no offset for 1 partition" in progress.offsets_problem
    # the source written on: copied again once MM2 copied the new record (the stray stays)
    produce(source.client_config, names["tail"], [(b"same", b"same", [], 0)])
    wait_for(
        lambda: (
            copied_by_content(
                source, target, {tp: tp for tp in tail}, read_committed=True, tails=kept
            )
            == {tail[0]: True, tail[1]: False}
        ),
        60,
        "the new record copied",
    )


def read_values(cluster: Cluster, topic: str) -> list[bytes]:
    from tests.kafka_helpers import read_partitions

    end = end_offsets(cluster, [(topic, 0)])[(topic, 0)]
    rows = read_partitions(cluster.client_config, topic, 1, expected=end, timeout=10)
    return [value for _o, _k, value, _h in rows[0]]


def test_offsets_topic_agrees_with_the_rest_api(flow):
    wait_for(lambda: caught_up(flow, flow["main"], flow["topics"]), 120, "replication lag 0")
    with httpx.Client(base_url=flow["connectors"].client.base_url, timeout=10) as client:
        rest = mm2_offsets(client, flow["main"])
    from_topic = offsets_topic_offsets(flow["target"], "connect-offsets", flow["main"])
    assert rest and from_topic == rest


def test_verify_matches_counts_and_records_then_catches_a_difference(flow):
    wait_for(lambda: caught_up(flow, flow["main"], flow["topics"]), 120, "replication lag 0")
    topics = flow["topics"]
    report = verify(flow["source"], flow["target"], topics, sample=50)
    assert report.ok, report.differences
    counts = {(p.topic, p.partition): (p.source_count, p.target_count) for p in report.partitions}
    names = flow["names"]
    assert sum(counts[(names["plain"], p)][0] for p in range(3)) == 300
    assert counts[(names["txn"], 0)] == (15, 15)  # 10 committed + 5 aborted records, no markers
    assert sum(counts[(names["compact"], p)][1] for p in range(2)) == 60  # tombstones included
    assert counts[(names["truncated"], 0)] == (60, 60)
    assert counts[(names["empty"], 0)] == (0, 0)

    # a record that exists only on the target is found
    produce(flow["target"].client_config, names["plain"], [(b"stray", b"only-here", [], 1)])
    report = verify(flow["source"], flow["target"], [names["plain"]], sample=50)
    (bad,) = report.differences
    assert (bad.topic, bad.partition) == (names["plain"], 1)
    assert bad.target_count == bad.source_count + 1 and bad.mismatch_at == 1


def test_stopped_flow_shows_lag_time_lag_and_retention_gap(flow):
    wait_for(lambda: caught_up(flow, flow["main"], flow["topics"]), 120, "replication lag 0")
    connectors, topic = flow["connectors"], flow["names"]["truncated"]
    connectors.stop(flow["main"])
    time.sleep(1.5)  # let the stopped task's last offset flush settle
    with httpx.Client(base_url=connectors.client.base_url, timeout=10) as client:
        replicated = mm2_offsets(client, flow["main"])
    produce(
        flow["source"].client_config, topic, [(None, f"late{i}".encode(), []) for i in range(50)]
    )
    time.sleep(1.2)
    for future in flow["source"].admin.delete_records([TopicPartition(topic, 0, 120)]).values():
        future.result(timeout=30)
    progress = replication_progress(flow["source"], replicated, [(topic, 0)])
    (row,) = progress.partitions
    assert row.replicated_to == 100 and row.start == 120 and row.end == 150
    assert row.gap == 20 and row.lag == 30 and row.exact
    assert row.time_lag_s is not None and row.time_lag_s >= 1.0
