"""Replication progress per partition, from MirrorMaker 2's own committed source offsets.

MM2 stores, per source partition, the offset OF the last record it replicated: Kafka Connect
serves it at `GET /connectors/<name>/offsets`, and it also lives in the worker's offsets topic
(`connect-offsets`, or `mm2-offsets.<alias>.internal` in dedicated mode) as JSON:
key `["<connector>", {"cluster": alias, "partition": p, "topic": t}]`, value `{"offset": n}`.

Records behind = source end offset - (last + 1), corrected for what offsets alone get wrong:
an empty partition is not behind; records deleted by retention before MM2 copied them are a
gap, not lag; and transaction markers at the tail (offsets that are never records) are not
lag: when few offsets remain (records.split_exact), the range is read and only real records
are counted.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import httpx

from bot.kafka.cluster import Cluster
from bot.kafka.groups import end_offsets, start_offsets
from bot.kafka.records import read_ranges, scan_topic, split_exact

TP = tuple[str, int]


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


def connect_offsets(client: httpx.Client, connector: str) -> dict[TP, int]:
    """Last replicated source offset per partition, from Kafka Connect's REST API."""
    response = client.get(f"/connectors/{connector}/offsets")
    response.raise_for_status()
    found = {}
    for entry in response.json().get("offsets", []):
        part, offset = entry.get("partition") or {}, entry.get("offset") or {}
        if "topic" in part and "offset" in offset:
            found[(part["topic"], int(part["partition"]))] = int(offset["offset"])
    return found


def offsets_topic_offsets(cluster: Cluster, topic: str, connector: str) -> dict[TP, int]:
    """The same, read from the worker's offsets topic (the last record per key wins)."""
    found: dict[TP, int] = {}
    scan_topic(
        cluster, topic, lambda msg: _apply_offset_record(found, connector, msg.key(), msg.value())
    )
    return found


def _apply_offset_record(
    found: dict[TP, int], connector: str, key: bytes | None, value: bytes | None
) -> None:
    try:
        name, part = json.loads(key or b"null")
    except (ValueError, TypeError):
        return
    if name != connector or not isinstance(part, dict) or "topic" not in part:
        return
    tp = (part["topic"], int(part["partition"]))
    if value is None:  # tombstone: the offset was reset
        found.pop(tp, None)
        return
    found[tp] = int(json.loads(value)["offset"])


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
