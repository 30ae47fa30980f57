"""Reading offset ranges of partitions: record counts, first timestamps, digests of the last K.

One consumer is assigned every range at once; a partition is done when it reaches the end of
its range (or its end of log). Used to tell data from transaction markers at a partition's tail,
for time lag, and to compare records on both sides.
"""

from __future__ import annotations

import hashlib
import struct
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from confluent_kafka import KafkaError, KafkaException, Message, TopicPartition

from bot.kafka.cluster import TIMEOUT, TP, Cluster
from bot.kafka.groups import LagSnapshot, end_offsets, start_offsets


@dataclass
class RangeRead:
    count: int = 0  # records seen in [start, end)
    first_offset: int | None = None
    first_timestamp_ms: int | None = None
    first_digest: bytes | None = None
    digests: deque = field(default_factory=deque)  # of the last K records, in order
    complete: bool = False  # the whole range was read (not cut by a limit)
    offsets: list[int] = field(default_factory=list)  # of every record read, with keep_offsets
    offset_digests: list[bytes] = field(default_factory=list)  # and their digests


def digest(msg: Message) -> bytes:
    """A digest of key, value and headers (in order), length-prefixed so fields cannot blur."""
    h = hashlib.blake2b(digest_size=16)
    for part in (msg.key(), msg.value()):
        h.update(struct.pack(">i", -1 if part is None else len(part)))
        h.update(part or b"")
    for name, value in msg.headers() or []:
        h.update(struct.pack(">i", len(name)) + name.encode())
        h.update(struct.pack(">i", -1 if value is None else len(value)))
        h.update(value or b"")
    return h.digest()


def read_ranges(
    cluster: Cluster,
    ranges: dict[TP, tuple[int, int]],
    *,
    keep_last: int = 0,
    limit: int | None = None,
    read_committed: bool = False,
    keep_offsets: bool = False,
    each: Callable[[Message], None] | None = None,
    digest_of: Callable[[Message], bytes] = digest,
    timeout: float = 120.0,
    silence: float = TIMEOUT,
) -> dict[TP, RangeRead]:
    """Read [start, end) of each partition; stop a partition after `limit` records if given;
    `each` sees every record read; the last `keep_last` are kept as `digest_of` them. A
    TimeoutError (a transient fault: the step holds degraded) after `timeout` seconds in all,
    or after `silence` seconds without anything from the brokers (a broker that stopped
    answering: no record, no end of partition)."""
    out = {tp: RangeRead(digests=deque(maxlen=keep_last or None)) for tp in ranges}
    todo = {tp for tp, (start, end) in ranges.items() if start < end}
    for tp in set(ranges) - todo:
        out[tp].complete = True
    if not todo:
        return out
    consumer = cluster.consumer(
        **{
            "enable.partition.eof": True,
            "isolation.level": "read_committed" if read_committed else "read_uncommitted",
            "fetch.max.bytes": 16 * 1024 * 1024,
        }
    )
    try:
        consumer.assign([TopicPartition(t, p, ranges[(t, p)][0]) for t, p in todo])
        deadline = time.monotonic() + timeout
        heard = time.monotonic()
        while todo:
            now = time.monotonic()
            if now > deadline:
                raise TimeoutError(
                    f"reading {len(todo)} partition range(s) on {cluster.name} "
                    f"did not finish in {timeout:.0f}s"
                )
            if now - heard > silence:
                raise TimeoutError(
                    f"reading {len(todo)} partition range(s) on {cluster.name}: no answer "
                    f"from its brokers for {silence:.0f}s"
                )
            batch = consumer.consume(1000, timeout=0.5)
            if batch:
                heard = time.monotonic()
            for msg in batch:
                tp = (msg.topic(), msg.partition())
                if tp not in todo:
                    continue
                err = msg.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        _finish(consumer, todo, out, tp)
                        continue
                    raise KafkaException(err)
                start, end = ranges[tp]
                if msg.offset() >= end:
                    _finish(consumer, todo, out, tp)
                    continue
                read = out[tp]
                if read.first_offset is None:
                    read.first_offset = msg.offset()
                    read.first_timestamp_ms = msg.timestamp()[1]
                    read.first_digest = digest(msg)
                read.count += 1
                if each is not None:
                    each(msg)
                if keep_offsets:
                    read.offsets.append(msg.offset())
                    read.offset_digests.append(digest(msg))
                if keep_last:
                    read.digests.append(digest_of(msg))
                if msg.offset() == end - 1:
                    _finish(consumer, todo, out, tp)
                elif limit is not None and read.count >= limit:
                    todo.discard(tp)
                    consumer.pause([TopicPartition(*tp)])
    finally:
        consumer.close()
    return out


def _finish(consumer, todo: set[TP], out: dict[TP, RangeRead], tp: TP) -> None:
    out[tp].complete = True
    todo.discard(tp)
    consumer.pause([TopicPartition(*tp)])


def scan_topic(cluster: Cluster, topic: str, handle, timeout: float = 60.0) -> None:
    """Call `handle(msg)` for every record now in `topic`, in offset order per partition."""
    meta = cluster.admin.list_topics(topic, timeout=30).topics.get(topic)
    if meta is None or meta.error is not None:
        return
    partitions = [(topic, p) for p in meta.partitions]
    starts, ends = start_offsets(cluster, partitions), end_offsets(cluster, partitions)
    todo = {tp for tp in partitions if starts[tp] < ends[tp]}
    if not todo:
        return
    consumer = cluster.consumer(**{"enable.partition.eof": True})
    try:
        consumer.assign([TopicPartition(t, p, starts[(t, p)]) for t, p in todo])
        deadline = time.monotonic() + timeout
        while todo:
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {topic} on {cluster.name} took over {timeout:.0f}s")
            for msg in consumer.consume(1000, timeout=0.5):
                tp = (msg.topic(), msg.partition())
                if msg.error() is not None:
                    if msg.error().code() != KafkaError._PARTITION_EOF:
                        raise KafkaException(msg.error())
                    todo.discard(tp)
                    continue
                if msg.offset() >= ends[tp] - 1:
                    todo.discard(tp)
                if msg.offset() < ends[tp]:
                    handle(msg)
    finally:
        consumer.close()


EXACT_BELOW = 10_000  # ranges this small are read to count the records a group would receive
EXACT_BUDGET = 50_000  # at most this many offsets in all are read per count


def split_exact(
    ranges: dict[TP, tuple[int, int]],
) -> tuple[dict[TP, tuple[int, int]], dict[TP, tuple[int, int]]]:
    """(read and counted exactly, counted from offsets): ranges of at most EXACT_BELOW offsets,
    the smallest first, up to EXACT_BUDGET offsets in all. A large backlog is counted from
    offsets (an upper bound) instead of being read record by record on every poll; as it
    shrinks, what is left (e.g. a tail of transaction markers) is read and counted."""
    small: dict[TP, tuple[int, int]] = {}
    total = 0
    for tp, (lo, hi) in sorted(ranges.items(), key=lambda item: item[1][1] - item[1][0]):
        if hi - lo > EXACT_BELOW or total + hi - lo > EXACT_BUDGET:
            break
        small[tp], total = (lo, hi), total + hi - lo
    return small, {tp: r for tp, r in ranges.items() if tp not in small}


def visible_lags(
    cluster: Cluster, snapshot: LagSnapshot, *, read_committed: bool = True
) -> LagSnapshot:
    """Consumer lag as records the group would still receive: transaction markers never are,
    and aborted records are not for read_committed readers (nor copied by a read_committed
    MirrorMaker 2). Partitions behind by little (see split_exact) are read once for every group
    behind there, and counted exactly; larger gaps are read up to their first record: none
    means lag 0, otherwise the raw offset difference stands."""
    behind: dict[TP, int] = {}
    for group in snapshot.groups.values():
        for row in group.partitions:
            if row.lag and row.committed is not None:
                tp = (row.topic, row.partition)
                behind[tp] = min(behind.get(tp, row.committed), row.committed)
    if not behind:
        return snapshot
    ends = snapshot.end_offsets
    small, large = split_exact({tp: (lo, ends[tp]) for tp, lo in behind.items()})
    reads = read_ranges(cluster, small, read_committed=read_committed, keep_offsets=True)
    reads.update(read_ranges(cluster, large, read_committed=read_committed, limit=1))
    groups = {}
    for name, group in snapshot.groups.items():
        rows = []
        for row in group.partitions:
            tp = (row.topic, row.partition)
            lag = row.lag
            if lag and row.committed is not None:
                read = reads[tp]
                if tp in small:
                    lag = sum(1 for off in read.offsets if off >= row.committed)
                elif read.count == 0:
                    lag = 0
            rows.append(replace(row, lag=lag))
        groups[name] = replace(group, partitions=rows)
    return replace(snapshot, groups=groups)
