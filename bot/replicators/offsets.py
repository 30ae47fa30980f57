"""MirrorMaker 2's committed source offsets: per source partition, the offset OF the last record
it replicated. Kafka Connect serves them at `GET /connectors/<name>/offsets`; they also live in
the worker's offsets topic (`connect-offsets`, or `mm2-offsets.<alias>.internal` in dedicated
mode) as JSON: key `["<connector>", {"cluster": alias, "partition": p, "topic": t}]`, value
`{"offset": n}`.

Written back as Connect writes them (`offset_record`): the key's bytes are what Java's
JsonConverter makes of it, compact, the partition map's fields in the order Connect gives them
(cluster, partition, topic); the worker looks a partition's offset up by those exact bytes. A
key's last write wins only within its partition of the topic, so the records go where Java's
producer puts that key (librdkafka's `murmur2_random` partitioner: murmur2 of the key bytes)."""

from __future__ import annotations

import json
from collections.abc import Callable

from bot.kafka.cluster import TP, Cluster
from bot.kafka.records import scan_topic

JAVA_PARTITIONER = "murmur2_random"  # librdkafka's name for Java's default keyed partitioner


class ReplicatedOffsets(dict):
    """The last replicated source offset per partition, and why there are none where the bot
    looked (`problem`: no such topic, no permission), said on the card as a degraded signal
    (progress is then decided by content) rather than shown as lag."""

    def __init__(self, found=(), problem: str | None = None):
        super().__init__(found)
        self.problem = problem


def offset_key(connector: str, alias: str, tp: TP) -> bytes:
    """The offsets topic's key of one source partition of a MirrorSourceConnector, byte for
    byte as Connect writes it."""
    topic, partition = tp
    part = {"cluster": alias, "partition": partition, "topic": topic}
    return json.dumps([connector, part], separators=(",", ":"), ensure_ascii=False).encode()


def offset_record(
    connector: str, alias: str, tp: TP, offset: int | None
) -> tuple[bytes, bytes | None]:
    """(key, value) of that partition's offset record; `offset` None: a tombstone (reset)."""
    value = None if offset is None else json.dumps({"offset": offset}, separators=(",", ":"))
    return offset_key(connector, alias, tp), None if value is None else value.encode()


def mirror_offsets(offsets: list[dict]) -> dict[TP, int]:
    """Last replicated source offset per partition, from a MirrorSourceConnector's offsets as
    Kafka Connect's REST API gives them (`GET /connectors/<name>/offsets`)."""
    found = {}
    for entry in offsets:
        part, offset = entry.get("partition") or {}, entry.get("offset") or {}
        if "topic" in part and "offset" in offset:
            found[(part["topic"], int(part["partition"]))] = int(offset["offset"])
    return found


def offsets_topic_offsets(
    cluster: Cluster, topic: str, connector: str | Callable[[str, dict], bool]
) -> dict[TP, int]:
    """The same, read from the worker's offsets topic (the last record per key wins).
    `connector`: its name, or a predicate on (connector name, source partition)."""
    found: dict[TP, int] = {}
    accept = connector if callable(connector) else (lambda name, _part: name == connector)
    scan_topic(
        cluster, topic, lambda msg: _apply_offset_record(found, accept, msg.key(), msg.value())
    )
    return found


def _apply_offset_record(
    found: dict[TP, int],
    accept: Callable[[str, dict], bool],
    key: bytes | None,
    value: bytes | None,
) -> None:
    try:
        name, part = json.loads(key or b"null")
    except (ValueError, TypeError):
        return
    if not isinstance(part, dict) or "topic" not in part or not accept(name, part):
        return
    tp = (part["topic"], int(part["partition"]))
    if value is None:  # tombstone: the offset was reset
        found.pop(tp, None)
        return
    found[tp] = int(json.loads(value)["offset"])
