"""Progress by content: a source partition is copied up to its end when the last records a
reader sees there are the last records of its copy on the target.

MirrorMaker 2's committed offsets say the same thing late (Kafka Connect stores them when it
flushes: every `offset.flush.interval.ms`, 60 s by default and not settable on every service),
or not at all where they are kept elsewhere than the bot looks. The tails are read from the
clusters themselves, a few records per partition: the last TAIL visible records (read committed
on both sides where the flow copies committed records only) of the source partition and of the
target partition, each a digest of key, value, headers and the producer's timestamp (MM2 keeps
it; a topic that stamps the broker's time cannot be matched and is left to the offsets).

MM2 copies a partition in order, so when the target ends with the source's last records, every
record before them arrived too. A producer that wrote to the target cannot fake it: its records
are not the source's. What cannot be told apart: a source ending in TAIL or more records equal
in everything, timestamp included, of which the target holds fewer (verify counts them).
"""

from __future__ import annotations

import hashlib
import struct

from confluent_kafka import TIMESTAMP_CREATE_TIME, Message

from bot.kafka.cluster import TP, Cluster
from bot.kafka.groups import end_offsets, start_offsets
from bot.kafka.records import digest, read_ranges

TAIL = 3  # records compared per partition
FIRST_WINDOW = 32  # offsets read back from the end first (markers and aborted records widen it)
WIDEN = 16
ROUNDS = 4


def tail_digest(msg: Message) -> bytes:
    """The record's digest (key, value, headers) and its producer's timestamp."""
    kind, stamp = msg.timestamp()
    h = hashlib.blake2b(digest(msg), digest_size=16)
    if kind == TIMESTAMP_CREATE_TIME:
        h.update(struct.pack(">q", stamp))
    return h.digest()


class Tails:
    """The last records found per cluster and partition, with the log start and end offsets
    they were read at. A partition whose start and end have not moved holds the same records:
    its tail is not read again. A migration keeps one across its looks (at 10,000 partitions,
    a look reads only the partitions written since the last)."""

    def __init__(self) -> None:
        self.seen: dict[tuple, tuple[int, int, tuple[bytes, ...]]] = {}

    def known(self, where: tuple, start: int, end: int) -> tuple[bytes, ...] | None:
        """`where`: (cluster name, read committed, partition)."""
        kept = self.seen.get(where)
        return kept[2] if kept and kept[:2] == (start, end) else None

    def keep(self, where: tuple, start: int, end: int, digests: tuple[bytes, ...]) -> None:
        self.seen[where] = (start, end, digests)


def last_records(
    cluster: Cluster,
    partitions: list[TP],
    *,
    read_committed: bool,
    k: int = TAIL,
    offsets: tuple[dict[TP, int], dict[TP, int]] | None = None,
    tails: Tails | None = None,
) -> dict[TP, tuple[bytes, ...]]:
    """The digests of the last `k` visible records of each partition (fewer where it holds
    fewer; none for an empty one). Read from the end back: a window of offsets, widened where
    transaction markers or aborted records left fewer than `k` visible records in it; a
    partition still short after the widest window is left out (undecided). `offsets`: the
    (start, end) offsets the caller just listed; `tails`: what earlier looks found (only the
    partitions that moved since are read)."""
    if not partitions:
        return {}
    starts, ends = offsets or (start_offsets(cluster, partitions), end_offsets(cluster, partitions))
    found: dict[TP, tuple[bytes, ...]] = {}
    todo = []
    for tp in partitions:
        kept = (
            tails.known((cluster.name, read_committed, tp), starts[tp], ends[tp]) if tails else None
        )
        if kept is None:
            todo.append(tp)
        else:
            found[tp] = kept
    window = FIRST_WINDOW
    for _ in range(ROUNDS):
        if not todo:
            return found
        ranges = {tp: (max(starts[tp], ends[tp] - window), ends[tp]) for tp in todo}
        reads = read_ranges(
            cluster, ranges, keep_last=k, read_committed=read_committed, digest_of=tail_digest
        )
        left = []
        for tp in todo:
            read = reads[tp]
            if read.count >= k or ranges[tp][0] <= starts[tp]:
                found[tp] = tuple(read.digests)
                if tails is not None:
                    tails.keep((cluster.name, read_committed, tp), starts[tp], ends[tp], found[tp])
            else:
                left.append(tp)
        if not left:
            return found
        todo, window = left, window * WIDEN
    return found  # a long run of markers or aborted records: those are left undecided


def copied_by_content(
    source: Cluster,
    target: Cluster,
    pairs: dict[TP, TP],
    *,
    read_committed: bool,
    source_offsets: tuple[dict[TP, int], dict[TP, int]] | None = None,
    tails: Tails | None = None,
) -> dict[TP, bool]:
    """Per source partition (`pairs`: source partition -> its copy on the target): True when
    its last visible records are the last of its copy (or it has none); read source first,
    then target (a copy only grows). `source_offsets`: the source's (start, end) offsets just
    listed; `tails`: kept across looks (see Tails)."""
    theirs = last_records(
        source, list(pairs), read_committed=read_committed, offsets=source_offsets, tails=tails
    )
    ours = last_records(target, list(pairs.values()), read_committed=read_committed, tails=tails)
    return {
        tp: tp in theirs and (not theirs[tp] or theirs[tp] == ours.get(pairs[tp])) for tp in pairs
    }
