"""Replication progress per partition, from MirrorMaker 2's own committed source offsets
(the replicator reads them: bot/replicators/offsets.py) and, where those say a partition is
behind or say nothing, from the content of both sides (bot/kafka/tails.py): a partition whose
last records are the last of its copy is copied, whatever the offsets, not yet flushed, say.
Each partition says which signal decided (`signal`): "offsets", "content", or "none" (no
offset for it and the tails differ: its lag is unknown, never shown as a count, and it is not
caught up).

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
from bot.kafka.naming import TopicNaming
from bot.kafka.records import read_ranges, split_exact
from bot.kafka.tails import Tails, copied_by_content


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
    signal: str = "offsets"  # what decided: offsets | content | none (lag unknown)


@dataclass(frozen=True)
class Progress:
    partitions: list[PartitionProgress]
    taken_at: float
    offsets_problem: str | None = None  # why MM2's offsets are missing or unreadable

    @property
    def lag(self) -> int:
        """Records behind, over the partitions whose lag is known."""
        return sum(p.lag for p in self.partitions if p.signal != "none")

    @property
    def unknown(self) -> list[PartitionProgress]:
        """Partitions neither signal says are copied, and with no offset to count from."""
        return [p for p in self.partitions if p.signal == "none"]

    @property
    def caught_up(self) -> bool:
        return self.lag == 0 and not self.unknown

    @property
    def by_content(self) -> list[PartitionProgress]:
        """Partitions the offsets call behind (or say nothing of) and the content calls copied."""
        return [p for p in self.partitions if p.signal == "content"]

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
    target: Cluster | None = None,
    naming: TopicNaming | None = None,
    offsets_problem: str | None = None,
    tails: Tails | None = None,
) -> Progress:
    """Progress of each source partition given MM2's last replicated offsets; with `target`
    (and the flow's `naming`), the partitions the offsets call behind or leave out are
    compared by content (`tails`: what earlier looks read, kept; see tails.Tails)."""
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
    copied: dict[TP, bool] = {}
    if target is not None and pending:
        naming = naming or TopicNaming()
        copied = copied_by_content(
            source,
            target,
            {tp: naming.target_partition(tp) for tp in pending},
            read_committed=read_committed,
            source_offsets=(starts, ends),
            tails=tails,
        )
        for tp in [tp for tp, yes in copied.items() if yes]:
            del pending[tp]
    small, large = split_exact(pending)
    reads = read_ranges(source, small, read_committed=read_committed) if small else {}
    reads.update(
        read_ranges(source, large, limit=1, read_committed=read_committed) if large else {}
    )
    result = []
    for tp in partitions:
        row = rows[tp]
        read = reads.get(tp)
        signal = "offsets"
        if copied.get(tp):
            lag, exact, age, signal = 0, True, None, "content"
        elif tp not in pending:
            lag, exact, age = 0, True, None
        elif tp in small:
            lag, exact = read.count, True
            age = None if not read.count else max(now - read.first_timestamp_ms / 1000, 0.0)
        else:
            rng = pending[tp]
            lag, exact = rng[1] - rng[0], False
            age = max(now - read.first_timestamp_ms / 1000, 0.0) if read.count else None
        if row["next"] is None and lag:
            signal, age = "none", None
        result.append(
            PartitionProgress(
                tp[0],
                tp[1],
                row["start"],
                row["end"],
                row["next"],
                lag,
                exact,
                row["gap"],
                age,
                signal,
            )
        )
    missing = sum(1 for p in result if p.signal == "none")
    if missing and offsets_problem is None:
        offsets_problem = f"MM2 has committed no offset for {missing} partition(s)"
    return Progress(result, now, offsets_problem)
