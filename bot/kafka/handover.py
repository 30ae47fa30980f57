"""Exact consumer-offset handover at cutover (design section 3).

After the drain, producers are stopped and both lags are zero, so every selected partition
holds the same records on both sides. A group whose committed offset is at the source end
(only transaction markers or aborted records, if anything, after it) has read everything: its
exact target offset is the target end offset. A group that stopped part-way (at most
COUNT_LIMIT offsets behind) has N records left that MM2 copies; the target's last N records are
those, so its exact offset is target end - N, used only when the record there matches the
group's first unread source record (so compaction, transaction markers, aborted records and
retention gaps cannot shift it unseen). Other groups get MM2's checkpoint translation when one
exists (approximate: the records after the translated offset are read again), or nothing
(unknown).
Offsets are written only when no group has members on the target, and read back.
"""

from __future__ import annotations

import bisect
import struct
from dataclasses import dataclass, field

from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition

from bot.errors import UserError
from bot.kafka.cluster import TP, Cluster
from bot.kafka.groups import commit_offsets, committed_offsets, describe_groups, end_offsets
from bot.kafka.naming import IDENTITY_NAMING, TopicNaming
from bot.kafka.records import read_ranges, scan_topic

EXACT, TRANSLATED, UNKNOWN = "exact", "translated", "unknown"
COUNT_LIMIT = 10_000  # records read per partition to count what a group has left


@dataclass(frozen=True)
class Checkpoint:
    group: str
    topic: str  # the target (remote) topic
    partition: int
    upstream: int
    downstream: int


@dataclass(frozen=True)
class OffsetHandover:
    topic: str  # source topic
    partition: int
    source_committed: int
    source_end: int
    target_topic: str
    target_offset: int | None
    kind: str  # exact / translated / unknown
    duplicates: int = 0  # records the group would read a second time (translated)


@dataclass
class GroupHandover:
    group: str
    offsets: list[OffsetHandover] = field(default_factory=list)

    @property
    def kinds(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for row in self.offsets:
            out[row.kind] = out.get(row.kind, 0) + 1
        return out

    @property
    def exact(self) -> bool:
        return all(row.kind == EXACT for row in self.offsets)


def parse_checkpoint(key: bytes, value: bytes) -> Checkpoint:
    """MM2's Checkpoint: key (group, topic: int16-length strings; partition int32), value
    (version int16, upstream int64, downstream int64, metadata string)."""
    pos = 0
    fields = []
    for _ in range(2):
        (length,) = struct.unpack_from(">h", key, pos)
        fields.append(key[pos + 2 : pos + 2 + length].decode())
        pos += 2 + length
    (partition,) = struct.unpack_from(">i", key, pos)
    _version, upstream, downstream = struct.unpack_from(">hqq", value, 0)
    return Checkpoint(fields[0], fields[1], partition, upstream, downstream)


def read_checkpoints(
    target: Cluster, naming: TopicNaming
) -> dict[tuple[str, str, int], Checkpoint]:
    """The latest checkpoint per (group, target topic, partition) on the target, if any."""
    latest: dict[tuple[str, str, int], Checkpoint] = {}

    def keep(msg) -> None:
        if msg.key() and msg.value():
            cp = parse_checkpoint(msg.key(), msg.value())
            latest[(cp.group, cp.topic, cp.partition)] = cp

    scan_topic(target, naming.checkpoints_topic, keep)
    return latest


def plan_handover(
    source: Cluster,
    target: Cluster,
    topics: list[str],
    groups: list[str],
    *,
    naming: TopicNaming = IDENTITY_NAMING,
    checkpoints: dict[tuple[str, str, int], Checkpoint] | None = None,
    read_committed: bool = True,
    count_limit: int = COUNT_LIMIT,
) -> list[GroupHandover]:
    """Per group and partition of the selected topics: the target offset and its kind."""
    selected = set(topics)
    committed = committed_offsets(source, groups)
    wanted = {tp for offs in committed.values() for tp in offs if tp[0] in selected}
    source_ends = end_offsets(source, wanted)
    target_ends = end_offsets(target, {naming.target_partition(tp) for tp in wanted})
    # what each group has left: the records MirrorMaker 2 copies (committed ones; markers and
    # aborted records are not copied) from its committed offset to the end, read once per
    # partition from the lowest such offset, to be counted and matched (groups further behind
    # than COUNT_LIMIT offsets are left to MM2's checkpoints)
    lowest: dict[TP, int] = {}
    for offs in committed.values():
        for tp, off in offs.items():
            if tp in wanted and 0 < source_ends[tp] - off <= count_limit:
                lowest[tp] = min(lowest.get(tp, off), off)
    tails = {tp: (off, source_ends[tp]) for tp, off in lowest.items()}
    tail_reads = (
        read_ranges(
            source, tails, limit=count_limit, read_committed=read_committed, keep_offsets=True
        )
        if tails
        else {}
    )
    left = {
        (group, tp): _left(tail_reads[tp], off)
        for group, offs in committed.items()
        for tp, off in offs.items()
        if tp in tail_reads and off >= tails[tp][0]
    }
    located = _locate_on_target(target, left, target_ends, naming)
    checkpoints = checkpoints or {}
    plans = []
    for group in groups:
        plan = GroupHandover(group)
        for (topic, partition), off in sorted(committed.get(group, {}).items()):
            if topic not in selected:
                continue
            tp = (topic, partition)
            target_topic = naming.target_name(topic)
            end = source_ends[tp]
            count, _first = left.get((group, tp), (None, None))
            behind = max(end - off, 0) if count is None else count
            if (group, tp) in located:  # part-way: its first unread record found on the target
                row = OffsetHandover(
                    topic, partition, off, end, target_topic, located[(group, tp)], EXACT
                )
            elif off >= end or behind == 0:
                row = OffsetHandover(
                    topic,
                    partition,
                    off,
                    end,
                    target_topic,
                    target_ends[(target_topic, partition)],
                    EXACT,
                )
            elif (cp := checkpoints.get((group, target_topic, partition))) and cp.upstream <= off:
                # the target holds a copy of the `behind` records still to read at its tail:
                # everything after the translated offset beyond those is read a second time
                copied_after = target_ends[(target_topic, partition)] - cp.downstream
                row = OffsetHandover(
                    topic,
                    partition,
                    off,
                    end,
                    target_topic,
                    cp.downstream,
                    TRANSLATED,
                    duplicates=max(copied_after - behind, 0),
                )
            else:
                row = OffsetHandover(topic, partition, off, end, target_topic, None, UNKNOWN)
            plan.offsets.append(row)
        plans.append(plan)
    return plans


def _left(read, committed: int) -> tuple[int | None, bytes | None]:
    """(records at or after `committed`, digest of the first of them); count None when the
    read stopped at its limit before the end."""
    if not read.complete:
        return None, None
    i = bisect.bisect_left(read.offsets, committed)
    first = read.offset_digests[i] if i < len(read.offsets) else None
    return len(read.offsets) - i, first


def _locate_on_target(
    target: Cluster,
    left: dict,
    target_ends: dict[TP, int],
    naming: TopicNaming,
) -> dict:
    """For a group part-way through a partition (with at most COUNT_LIMIT records left): once
    replication is complete and the source quiet, the target's last `count` records are the
    records the group has not read, so its exact offset is target end - count. That holds only
    if the target's tail really is that sequence: the record there is read and must match the
    group's first unread source record (key, value, headers), or the group is not located."""
    wanted: dict[TP, list] = {}
    for (group, (topic, partition)), (count, first) in left.items():
        if not count or first is None:
            continue
        target_tp = naming.target_partition((topic, partition))
        offset = target_ends[target_tp] - count
        if offset >= 0:
            wanted.setdefault(target_tp, []).append((group, (topic, partition), offset, first))
    if not wanted:
        return {}
    ranges = {
        tp: (min(w[2] for w in rows), max(w[2] for w in rows) + 1) for tp, rows in wanted.items()
    }
    reads = read_ranges(target, ranges, keep_offsets=True)
    located = {}
    for tp, rows in wanted.items():
        seen = dict(zip(reads[tp].offsets, reads[tp].offset_digests, strict=True))
        for group, source_tp, offset, first in rows:
            if seen.get(offset) == first:
                located[(group, source_tp)] = offset
    return located


def apply_handover(target: Cluster, plans: list[GroupHandover]) -> None:
    """Write the planned offsets; refuse, writing nothing, if any group is active on the target."""
    states = describe_groups(target, [p.group for p in plans])
    active = [
        f"{g} ({state}, {members} member(s))"
        for g, (state, members) in states.items()
        if members > 0
    ]
    if active:
        raise UserError(
            "consumers are already running on the target for: "
            + ", ".join(active)
            + ". Stop them first: offsets can only be handed over to an empty group."
        )
    requests = []
    for plan in plans:
        offsets = [
            TopicPartition(r.target_topic, r.partition, r.target_offset)
            for r in plan.offsets
            if r.target_offset is not None
        ]
        if offsets:
            requests.append(ConsumerGroupTopicPartitions(plan.group, offsets))
    commit_offsets(target, requests)
    written = committed_offsets(target, [r.group_id for r in requests])
    for request in requests:
        for tp in request.topic_partitions:
            got = written[request.group_id].get((tp.topic, tp.partition))
            if got != tp.offset:
                raise UserError(
                    f"{request.group_id} {tp.topic}[{tp.partition}]: wrote offset "
                    f"{tp.offset}, the target holds {got}"
                )


def apply_once(cluster: Cluster, plans: list[GroupHandover]) -> None:
    """Write the planned offsets unless the cluster holds them already (a step run again after
    a restart writes nothing twice)."""
    wanted = {
        p.group: {
            (r.target_topic, r.partition): r.target_offset
            for r in p.offsets
            if r.target_offset is not None
        }
        for p in plans
    }
    written = committed_offsets(cluster, list(wanted))
    if any(written[g] != offs for g, offs in wanted.items()):
        apply_handover(cluster, plans)
