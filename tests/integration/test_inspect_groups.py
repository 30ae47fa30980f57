"""Cluster inspection and consumer-group lag on the sandbox."""

from __future__ import annotations

import time

from confluent_kafka import Consumer, Producer, TopicPartition

from bot.kafka.cluster import Cluster
from bot.kafka.groups import lag_snapshot
from bot.kafka.inspect import inspect
from bot.kafka.records import visible_lags
from tests.kafka_helpers import commit, create_topic, produce


def test_inspect_reports_identity_version_authorizer_and_internal_topics(sandbox):
    info = inspect(Cluster("source", sandbox.source.client_config()))
    assert len(info.cluster_id) == 22
    port = sandbox.source.bootstrap_servers.rsplit(":", 1)[1]
    assert info.brokers == [f"1@127.0.0.1:{port}"] and info.controller == 1
    assert info.kafka_version == "4.3" and info.metadata_version == "4.3-IV0"
    assert info.authorizer is True
    flags = {t.name: t.internal for t in info.topics}
    assert flags["__consumer_offsets"] is True
    assert not any(flags[name] for name in flags if name.startswith("orders-"))


def test_lag_snapshot_per_group_and_partition_with_state_and_members(sandbox, unique):
    conf = sandbox.source.client_config()
    cluster = Cluster("source", conf)
    topic, other = f"lag-{unique}", f"lag-other-{unique}"
    create_topic(conf, topic, 3)
    create_topic(conf, other, 1)
    produce(conf, topic, [(None, b"x", [], p) for p in range(3) for _ in range(10)])
    produce(conf, other, [(None, b"x", [])] * 5)
    idle, live, unrelated = f"idle-{unique}", f"live-{unique}", f"unrelated-{unique}"
    commit(cluster, idle, {(topic, 0): 10, (topic, 1): 4})
    commit(cluster, unrelated, {(other, 0): 1})
    consumer = Consumer(
        {**conf, "group.id": live, "enable.auto.commit": False, "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    try:
        deadline = time.monotonic() + 30
        while not consumer.assignment() and time.monotonic() < deadline:
            consumer.poll(0.2)
        consumer.commit(offsets=[TopicPartition(topic, 2, 7)], asynchronous=False)
        snap = lag_snapshot(cluster, topics=[topic])
    finally:
        consumer.close()
    assert unrelated not in snap.groups
    rows = {
        (r.topic, r.partition): (r.committed, r.end, r.lag) for r in snap.groups[idle].partitions
    }
    assert rows == {(topic, 0): (10, 10, 0), (topic, 1): (4, 10, 6)}
    assert snap.groups[idle].state == "EMPTY" and snap.groups[idle].members == 0
    assert snap.groups[live].state == "STABLE" and snap.groups[live].members == 1
    assert snap.groups[live].lag == 3
    assert snap.end_offsets[(topic, 2)] == 10


def test_selection_preview_on_the_real_cluster(sandbox, unique):
    from bot.kafka.select import TopicSelection

    conf = sandbox.source.client_config()
    for name in (f"shop.{unique}.orders", f"shop.{unique}.orders.test", f"shop.{unique}.users"):
        create_topic(conf, name, 1)
    selection = TopicSelection(f"shop\\.{unique}\\..*,__consumer_offsets", ".*\\.test")
    names = Cluster("source", conf).admin.list_topics(timeout=15).topics
    preview = selection.preview(list(names))
    assert preview.selected == [
        "__consumer_offsets",
        f"shop.{unique}.orders",
        f"shop.{unique}.users",
    ]
    assert preview.excluded == [f"shop.{unique}.orders.test"]


def test_lag_is_records_a_group_would_still_receive_not_markers_or_aborted_records(sandbox, unique):
    """A read_committed consumer that read everything and committed its last record + 1 is
    not behind when the log ends with an aborted transaction (100 records + markers)."""
    from tests.integration.test_replication import transactions

    conf = sandbox.source.client_config()
    cluster = Cluster("source", conf)
    topic = f"txlag-{unique}"
    create_topic(conf, topic, 1)
    transactions(conf, topic, f"txlag-{unique}", ("commit", "commit"))  # offsets 0-4, 6-10
    producer = Producer({**conf, "transactional.id": f"txlag-abort-{unique}"})
    producer.init_transactions(30)
    producer.begin_transaction()
    for i in range(100):
        producer.produce(topic, value=f"aborted-{i}".encode(), partition=0)
    producer.flush(30)
    producer.abort_transaction(30)
    done, partway, raw = f"done-{unique}", f"partway-{unique}", f"raw-{unique}"
    consumer = Consumer(
        {
            **conf,
            "group.id": done,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
        }
    )
    consumer.subscribe([topic])
    read = []
    try:
        deadline = time.monotonic() + 30
        while len(read) < 10 and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                read.append(msg)
        consumer.commit(message=read[-1], asynchronous=False)  # last record + 1
    finally:
        consumer.close()
    assert len(read) == 10 and read[-1].offset() == 10
    commit(cluster, partway, {(topic, 0): 3})
    snap = lag_snapshot(cluster, topics=[topic])
    assert snap.groups[done].lag == snap.end_offsets[(topic, 0)] - 11 == 102  # 100 + 2 markers
    visible = visible_lags(cluster, snap, read_committed=True)
    assert visible.groups[done].lag == 0
    assert visible.groups[partway].lag == 7  # offsets 3, 4 and 6-10: the markers do not count
    assert raw not in visible.groups
