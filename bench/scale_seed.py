"""The estate the scale bench migrates, made on the sandbox's source, and removed after.

Topics `PREFIX-t-NNNNN` of `partitions` partitions holding `records` small records each; groups
`PREFIX-g-NNNN` without members, each committed on `span` topics (every partition): half at the
end (caught up), a quarter part-way (the middle of each partition), a quarter stale (offset 1:
stopped early); ACL bindings on those topics and groups. Run in a process of its own (`seed`
through multiprocessing) so that the bench process holds only what the engine holds.
"""

from __future__ import annotations

import time

from confluent_kafka import (
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec

from bench.cutover import delete_connectors
from bot.kafka.acls import Acl, delete_acls
from bot.kafka.cluster import Cluster, error_code, retriable

BATCH = 500  # topics per CreateTopics / DeleteTopics request
KINDS = ("caught up", "caught up", "part-way", "stale")


def topic_names(prefix: str, topics: int) -> list[str]:
    return [f"{prefix}-t-{i:05d}" for i in range(topics)]


def group_names(prefix: str, groups: int) -> list[str]:
    return [f"{prefix}-g-{i:04d}" for i in range(groups)]


def committed_at(kind: str, records: int) -> int:
    """Where a group of this kind stands in a partition of `records` records."""
    return {"caught up": records, "part-way": records // 2, "stale": min(1, records)}[kind]


def plan_groups(prefix: str, topics: int, partitions: int, groups: int, records: int) -> dict:
    """group -> {(topic, partition): committed offset}: each group reads `span` topics."""
    names = topic_names(prefix, topics)
    span = max(1, topics // max(groups, 1))
    out = {}
    for i, group in enumerate(group_names(prefix, groups)):
        offset = committed_at(KINDS[i % len(KINDS)], records)
        chosen = [names[(i * span + k) % topics] for k in range(span)]
        out[group] = {(t, p): offset for t in chosen for p in range(partitions)}
    return out


def plan_acls(prefix: str, topics: int, groups: int, acls: int) -> list[Acl]:
    """READ for alice and WRITE for bob on topics, READ for alice on groups, in turn."""
    names, readers = topic_names(prefix, topics), group_names(prefix, groups)
    out = []
    for i in range(acls):
        if i % 4 == 3 and readers:
            out.append(
                Acl(
                    "GROUP",
                    readers[i % len(readers)],
                    "LITERAL",
                    "User:alice",
                    "*",
                    "READ",
                    "ALLOW",
                )
            )
        else:
            who, op = ("User:bob", "WRITE") if i % 4 == 2 else ("User:alice", "READ")
            name = names[(i // 4 * 3 + i % 4) % topics]
            out.append(Acl("TOPIC", name, "LITERAL", who, "*", op, "ALLOW"))
    return list(dict.fromkeys(out))  # distinct bindings


def seed(
    conf: dict, prefix: str, topics: int, partitions: int, groups: int, records: int, acls: int
) -> dict:
    """Make it all on the source; what was made, counted and read back. A Kafka error comes
    back as a RuntimeError with its text (its own class does not cross processes)."""
    try:
        return _seed(conf, prefix, topics, partitions, groups, records, acls)
    except Exception as exc:  # noqa: BLE001 - said whole to the bench's process
        raise RuntimeError(f"seeding failed: {exc!r}") from None


def _seed(conf, prefix, topics, partitions, groups, records, acls) -> dict:
    admin = AdminClient({**conf, "log_level": 3})
    names = topic_names(prefix, topics)
    for i in range(0, len(names), BATCH):
        batch = [NewTopic(n, partitions, 1) for n in names[i : i + BATCH]]
        for future in admin.create_topics(batch, operation_timeout=120).values():
            future.result(timeout=180)
    tps = {TopicPartition(n, p): OffsetSpec.latest() for n in names for p in range(partitions)}

    def served() -> dict:  # every new partition served (a producer gives up on it otherwise)
        answers = admin.list_offsets(tps, request_timeout=60).items()
        return {(tp.topic, tp.partition): f.result().offset for tp, f in answers}

    patiently(served)
    producer = Producer(
        {**conf, "log_level": 3, "linger.ms": 50, "queue.buffering.max.messages": 1_000_000}
    )
    for n in names:
        for p in range(partitions):
            for r in range(records):
                producer.produce(n, b"v-%d" % r, key=b"k-%d" % r, partition=p)
        producer.poll(0)
    if producer.flush(300):
        raise SystemExit("producing did not finish in 300 s")
    ends = patiently(served)
    if sum(ends.values()) != topics * partitions * records:
        raise SystemExit(
            f"the source holds {sum(ends.values())} records, not {topics * partitions * records}"
        )
    wanted = plan_groups(prefix, topics, partitions, groups, records)
    patiently(lambda: commit_all(admin, wanted))
    bindings = plan_acls(prefix, topics, groups, acls)
    for future in admin.create_acls([a.binding() for a in bindings]).values():
        future.result(timeout=60)
    return {"records": sum(ends.values()), "groups": len(wanted), "acls": len(bindings)}


def commit_all(admin: AdminClient, wanted: dict) -> None:
    """Commit every group's offsets, one group per request, all in flight together."""
    futures = {}
    for group, offsets in wanted.items():
        request = [TopicPartition(t, p, o) for (t, p), o in offsets.items()]
        futures.update(
            admin.alter_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(group, request)], request_timeout=60
            )
        )
    for future in futures.values():
        future.result(timeout=120)


# what a brand-new partition answers until its log is made: no leader found, unknown to it yet
NOT_YET = {KafkaError._NOENT, KafkaError.UNKNOWN_TOPIC_OR_PART}


def patiently(call, timeout: float = 600):
    """call() again while the broker is still creating thousands of partitions' logs (it
    answers NOT_LEADER_FOR_PARTITION for those meanwhile)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except KafkaException as exc:
            if not (retriable(exc) or error_code(exc) in NOT_YET):
                raise
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def cleanup(box, connect, prefix: str, acls: list[Acl]) -> None:
    """Connectors, topics, groups and ACL bindings of this run, on both clusters."""
    ours = [
        c for c in connect.get("/connectors").json() if c.startswith((f"{prefix}", f"km-{prefix}"))
    ]
    delete_connectors(connect, ours)
    for endpoint in (box.source, box.target):
        conf = endpoint.client_config()
        admin = AdminClient({**conf, "log_level": 3})
        names = [t for t in admin.list_topics(timeout=30).topics if t.startswith(f"{prefix}-")]
        for i in range(0, len(names), BATCH):
            for future in admin.delete_topics(names[i : i + BATCH], operation_timeout=120).values():
                future.result(timeout=180)
        listed = admin.list_consumer_groups(request_timeout=30).result(timeout=60).valid
        groups = [g.group_id for g in listed if g.group_id.startswith(f"{prefix}-")]
        if groups:
            for future in admin.delete_consumer_groups(groups, request_timeout=60).values():
                future.exception(timeout=120)  # a group still in use stays: said nowhere
        cluster = Cluster(endpoint.name if hasattr(endpoint, "name") else "cluster", conf)
        if acls:
            delete_acls(cluster, acls, "delete the scale bench's bindings")
