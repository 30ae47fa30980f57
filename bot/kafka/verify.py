"""Did the data really arrive? Per-partition record counts and the last K records compared.

Both sides are read (not just their offsets: transaction markers, aborted records and
compaction make offset arithmetic lie). Counts are exact up to `count_limit` records per
partition; beyond, the offset span is reported and marked as such. The last K records of each
partition are compared by digest of key, value and headers, in order.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.kafka.cluster import TP, Cluster
from bot.kafka.groups import end_offsets, start_offsets
from bot.kafka.naming import IDENTITY_NAMING, TopicNaming
from bot.kafka.records import read_ranges


@dataclass(frozen=True)
class PartitionCheck:
    topic: str
    partition: int
    target_topic: str
    source_count: int
    target_count: int
    counted: bool  # counts are record counts, not offset spans
    compared: int  # how many trailing records were compared
    mismatch_at: int | None  # index from the end (1 = last record) of the first difference

    @property
    def ok(self) -> bool:
        return self.source_count == self.target_count and self.mismatch_at is None


@dataclass(frozen=True)
class VerifyReport:
    partitions: list[PartitionCheck]

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.partitions)

    @property
    def differences(self) -> list[PartitionCheck]:
        return [p for p in self.partitions if not p.ok]


def verify(
    source: Cluster,
    target: Cluster,
    topics: list[str],
    *,
    naming: TopicNaming = IDENTITY_NAMING,
    sample: int = 100,
    count_limit: int = 1_000_000,
    read_committed: bool = False,
    target_ends: dict[TP, int] | None = None,
    source_ends: dict[TP, int] | None = None,
    target_read_committed: bool = False,
) -> VerifyReport:
    """Compare each source partition with its copy. `target_ends` stops the target side at a
    point (the handover), when producers have written to the target since; `source_ends` the
    source side (a reverse flow copies the target's new records back). On the way back the
    "target" is the source cluster, whose own aborted transactions are read past as well
    (`target_read_committed`)."""
    src_meta = source.admin.list_topics(timeout=30)
    pairs = [
        ((t, p), naming.target_partition((t, p)))
        for t in topics
        for p in src_meta.topics[t].partitions
    ]
    src_tps, tgt_tps = [s for s, _ in pairs], [t for _, t in pairs]
    s_start = start_offsets(source, src_tps)
    s_end = {**end_offsets(source, src_tps), **(source_ends or {})}
    t_start = start_offsets(target, tgt_tps)
    t_end = {**end_offsets(target, tgt_tps), **(target_ends or {})}
    counted = {
        s: s_end[s] - s_start[s] <= count_limit and t_end[t] - t_start[t] <= count_limit
        for s, t in pairs
    }
    s_ranges = {
        s: (s_start[s], s_end[s])
        if counted[s]
        else (max(s_start[s], s_end[s] - 4 * sample), s_end[s])
        for s, _ in pairs
    }
    t_ranges = {
        t: (t_start[t], t_end[t]) if counted[s] else (max(t_start[t], t_end[t] - sample), t_end[t])
        for s, t in pairs
    }
    s_read = read_ranges(source, s_ranges, keep_last=sample, read_committed=read_committed)
    t_read = read_ranges(target, t_ranges, keep_last=sample, read_committed=target_read_committed)
    checks = []
    for s, t in pairs:
        a, b = list(s_read[s].digests), list(t_read[t].digests)
        n = min(len(a), len(b), sample)
        mismatch = next((i for i in range(1, n + 1) if a[-i] != b[-i]), None)
        if mismatch is None and len(a) != len(b) and n < sample:
            mismatch = n + 1  # one side has records the other lacks
        if counted[s]:
            counts = (s_read[s].count, t_read[t].count)
        else:
            counts = (s_end[s] - s_start[s], t_end[t] - t_start[t])
        checks.append(
            PartitionCheck(s[0], s[1], t[0], counts[0], counts[1], counted[s], n, mismatch)
        )
    return VerifyReport(checks)
