"""Replication progress per partition, from MirrorMaker 2's own committed source offsets
(the replicator reads them: bot/replicators/offsets.py).

Records behind = source end offset - (last + 1), corrected for what offsets alone get wrong:
an empty partition is not behind; records deleted by retention before MM2 copied them are a
gap, not lag; and transaction markers at the tail (offsets that are never records) are not
lag: when few offsets remain (records.split_exact), the range is read and only real records
are counted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from bot.kafka.cluster import TP, Cluster
from bot.kafka.groups import end_offsets, start_offsets
from bot.kafka.records import read_ranges, split_exact


@dataclass(frozen=True)
class PartitionProgress:
    topic: str
    partition: int
    start: int  # source log start offset
    end: int  # source end offset (high watermark)
    replicated_to: int | None  # next offset MM2 will copy (last replicated + 1)
    lag: int  # records behind
    exact: bool  # lag counted from records (True) or from offsets (an upper bound)
    gap: int  # records deleted on the source before MM2 copied them
    time_lag_s: float | None  # age of the first record not yet replicated


@dataclass(frozen=True)
class Progress:
    partitions: list[PartitionProgress]
    taken_at: float

    @property
    def lag(self) -> int:
        return sum(p.lag for p in self.partitions)

    @property
    def max_time_lag_s(self) -> float:
        return max((p.time_lag_s or 0.0 for p in self.partitions), default=0.0)

    @property
    def gaps(self) -> list[PartitionProgress]:
        return [p for p in self.partitions if p.gap]


def replication_progress(
    source: Cluster,
    replicated: dict[TP, int],
    partitions: list[TP],
    *,
    read_committed: bool = False,
    now: float | None = None,
) -> Progress:
    """Progress of each source partition given MM2's last replicated offsets."""
    now = time.time() if now is None else now
    ends = end_offsets(source, partitions)
    starts = start_offsets(source, partitions)
    pending: dict[TP, tuple[int, int]] = {}
    rows: dict[TP, dict] = {}
    for tp in partitions:
        start, end = starts[tp], ends[tp]
        last = replicated.get(tp)
        nxt = None if last is None else last + 1
        gap = max(start - nxt, 0) if nxt is not None else 0
        first_missing = start if nxt is None else max(nxt, start)
        rows[tp] = {"start": start, "end": end, "next": nxt, "gap": gap}
        if first_missing < end:
            pending[tp] = (first_missing, end)
    small, large = split_exact(pending)
    reads = read_ranges(source, small, read_committed=read_committed) if small else {}
    reads.update(
        read_ranges(source, large, limit=1, read_committed=read_committed) if large else {}
    )
    result = []
    for tp in partitions:
        row = rows[tp]
        read = reads.get(tp)
        if tp not in pending:
            lag, exact, age = 0, True, None
        elif tp in small:
            lag, exact = read.count, True
            age = None if not read.count else max(now - read.first_timestamp_ms / 1000, 0.0)
        else:
            rng = pending[tp]
            lag, exact = rng[1] - rng[0], False
            age = max(now - read.first_timestamp_ms / 1000, 0.0) if read.count else None
        result.append(
            PartitionProgress(
                tp[0], tp[1], row["start"], row["end"], row["next"], lag, exact, row["gap"], age
            )
        )
    return Progress(result, now)
