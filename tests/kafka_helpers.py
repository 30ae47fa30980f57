"""Small helpers for tests that talk to the sandbox's real brokers."""

from __future__ import annotations

import time

from confluent_kafka import (
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, ResourceType

from bot.kafka.cluster import KafkaOpError, NotYet, eventually
from bot.kafka.groups import commit_offsets


def create_topic(conf: dict, name: str, partitions: int = 1, config: dict | None = None) -> None:
    """Create it and return once its metadata and configs answer (they propagate a moment after
    the create call returns), as a topic that existed before a migration would."""
    admin = AdminClient(conf)
    futures = admin.create_topics([NewTopic(name, partitions, 1, config=config or {})])
    futures[name].result(timeout=30)

    def visible() -> None:
        try:
            check()
        except KafkaException as exc:
            raise NotYet(str(exc)) from None

    def check() -> None:
        topic = admin.list_topics(name, timeout=10).topics.get(name)
        if topic is None or topic.error is not None or len(topic.partitions) < partitions:
            raise NotYet(f"{name} not visible yet")
        resource = ConfigResource(ResourceType.TOPIC, name)
        configs = admin.describe_configs([resource])[resource].result(timeout=10)
        for key, value in (config or {}).items():
            if configs[key].value != value:
                raise NotYet(f"{name}: {key} not {value} yet")

    eventually(visible, timeout=15)


def produce(conf: dict, topic: str, records: list[tuple], **extra) -> None:
    """records: (key, value, headers[, partition]) tuples; waits for every delivery."""
    producer = Producer({**conf, "linger.ms": 5, "enable.idempotence": True, **extra})
    errors = []

    def report(err, _msg):
        if err is not None:
            errors.append(err)

    for record in records:
        key, value, headers, *partition = record
        kwargs = {"partition": partition[0]} if partition else {}
        producer.produce(topic, value=value, key=key, headers=headers, on_delivery=report, **kwargs)
        producer.poll(0)
    assert producer.flush(60) == 0
    assert not errors, errors[:3]


def read_partitions(conf: dict, topic: str, partitions: int, expected: int, timeout: float = 90):
    """Read every partition from the start until `expected` records arrived, per partition.

    Returns {partition: [(offset, key, value, headers), ...]} in offset order.
    """
    consumer = Consumer(
        {
            **conf,
            "group.id": "unused-assign-only",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    out: dict[int, list] = {p: [] for p in range(partitions)}
    deadline = time.monotonic() + timeout
    try:
        while sum(len(v) for v in out.values()) < expected and time.monotonic() < deadline:
            for msg in consumer.consume(500, timeout=1):
                if msg.error():
                    raise KafkaException(msg.error())
                out[msg.partition()].append(
                    (msg.offset(), msg.key(), msg.value(), msg.headers() or [])
                )
    finally:
        consumer.close()
    return out


def commit(cluster, group: str, offsets: dict[tuple[str, int], int], timeout: float = 30) -> None:
    """Commit a group's offsets with the admin API, as a team's tooling would; a coordinator
    still loading on a fresh cluster is waited out (the commit is retried)."""
    request = ConsumerGroupTopicPartitions(
        group, [TopicPartition(t, p, o) for (t, p), o in offsets.items()]
    )
    deadline = time.monotonic() + timeout
    while True:
        try:
            return commit_offsets(cluster, [request])
        except KafkaOpError as exc:
            if not exc.retriable or time.monotonic() > deadline:
                raise
            time.sleep(0.3)
