"""Small helpers for tests that talk to the sandbox's real brokers."""

from __future__ import annotations

import time

from confluent_kafka import (
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic, ResourceType

from bot.kafka.cluster import KafkaOpError, NotYet, eventually
from bot.kafka.groups import commit_offsets, committed_offsets, end_offsets


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


def delete_topics(conf: dict, names: list[str]) -> None:
    """Delete topics a test created (a test cleans up after itself)."""
    admin = AdminClient(conf)
    for future in admin.delete_topics(names, operation_timeout=30).values():
        future.result(timeout=60)


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


def write(conf: dict, user: str, password: str, topic: str) -> KafkaError | None:
    producer = Producer(
        {
            **conf,
            "sasl.username": user,
            "sasl.password": password,
            "message.timeout.ms": 10000,
            "enable.idempotence": False,
        }
    )
    errors: list[KafkaError] = []
    producer.produce(topic, b"v", on_delivery=lambda err, _m: err and errors.append(err))
    producer.flush(15)
    return errors[0] if errors else None


def consume(
    conf: dict, topic: str, group: str, count: int, timeout: float = 60, settle: float = 0.0
) -> list[bytes]:
    """Consume as group `group` until `count` records (then `settle` more seconds); commit."""
    consumer = Consumer(
        {
            **conf,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "isolation.level": "read_committed",
        }
    )
    consumer.subscribe([topic])
    values: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while len(values) < count and time.monotonic() < deadline:
            for msg in consumer.consume(100, timeout=0.5):
                assert msg.error() is None, msg.error()
                values.append(msg.value())
        quiet_until = time.monotonic() + settle
        while time.monotonic() < quiet_until:
            for msg in consumer.consume(100, timeout=0.2):
                assert msg.error() is None, msg.error()
                values.append(msg.value())
        if values:
            consumer.commit(asynchronous=False)
    finally:
        consumer.close()
    return values


def read_from(conf: dict, starts: dict, until: dict | None = None) -> list[bytes]:
    """Every record of the given partitions from the given offsets (to the end, or to `until`
    exclusive), as a new reader sees them."""
    consumer = Consumer(
        {
            **conf,
            "group.id": "km-test-reader",
            "enable.auto.commit": False,
            "enable.partition.eof": True,
        }
    )
    consumer.assign([TopicPartition(t, p, o) for (t, p), o in starts.items()])
    values, done = [], set()
    for tp, stop in (until or {}).items():
        if stop <= starts[tp]:
            done.add(tp)
    deadline = time.monotonic() + 30
    while len(done) < len(starts) and time.monotonic() < deadline:
        for msg in consumer.consume(100, timeout=0.5):
            tp = (msg.topic(), msg.partition())
            if tp in done:
                continue
            if msg.error() is None:
                if until and msg.offset() >= until[tp]:
                    done.add(tp)
                    continue
                values.append(msg.value())
                if until and msg.offset() == until[tp] - 1:
                    done.add(tp)
            elif msg.error().code() == KafkaError._PARTITION_EOF:
                done.add(tp)
    consumer.close()
    return values


def group_committed(cluster, group: str, partitions: list[tuple[str, int]], timeout: float = 60):
    """Wait until `group` has committed an offset on each of `partitions`; its offsets."""
    from tests.waits import wait_for

    def offsets():
        got = committed_offsets(cluster, [group]).get(group, {})
        return got if all(tp in got for tp in partitions) else None

    return wait_for(offsets, timeout, f"{group} committed on {partitions}", every=0.2)


def group_at_end(cluster, group: str, partitions: list[tuple[str, int]], timeout: float = 60):
    """Wait until `group` has committed the end offset of each of `partitions` (a member that
    commits after each batch has then received every record there is)."""
    from tests.waits import wait_for

    def at_end():
        got = committed_offsets(cluster, [group]).get(group, {})
        ends = end_offsets(cluster, partitions)
        return all(got.get(tp) == end for tp, end in ends.items())

    return wait_for(at_end, timeout, f"{group} at the end of {partitions}", every=0.2)


def murmur2(data: bytes) -> int:
    """Java's `Utils.murmur2` (the hash its default partitioner takes of a record's key)."""
    m, mask = 0x5BD1E995, 0xFFFFFFFF
    h = (0x9747B28C ^ len(data)) & mask
    whole = len(data) // 4 * 4
    for i in range(0, whole, 4):
        k = (int.from_bytes(data[i : i + 4], "little") * m) & mask
        k = ((k ^ (k >> 24)) * m) & mask
        h = ((h * m) & mask) ^ k
    tail = data[whole:]
    if len(tail) >= 3:
        h ^= tail[2] << 16
    if len(tail) >= 2:
        h ^= tail[1] << 8
    if tail:
        h = ((h ^ tail[0]) * m) & mask
    h = ((h ^ (h >> 13)) * m) & mask
    return h ^ (h >> 15)


def java_partition(key: bytes, partitions: int) -> int:
    """The partition Java's producer writes a keyed record to (toPositive(murmur2) % n)."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions
