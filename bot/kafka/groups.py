"""Consumer groups and their lag, read in batches.

One lag snapshot is: ListGroups (one request per broker), DescribeGroups for all groups,
OffsetFetch for every group at once (librdkafka sends one request per group, all in flight
together), and one ListOffsets call for every partition involved (librdkafka sends one request
per partition leader). Never a request per partition.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from confluent_kafka import ConsumerGroupTopicPartitions, IsolationLevel, TopicPartition
from confluent_kafka.admin import OffsetSpec

from bot.kafka.cluster import PASSING, TIMEOUT, TP, Cluster, KafkaOpError, gather


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    committed: int | None  # None: the group has no committed offset here
    end: int
    lag: int | None


@dataclass
class GroupLag:
    group: str
    state: str
    members: int
    partitions: list[PartitionLag] = field(default_factory=list)

    @property
    def lag(self) -> int:
        return sum(p.lag or 0 for p in self.partitions)

    @property
    def topics(self) -> set[str]:
        return {p.topic for p in self.partitions}


@dataclass
class LagSnapshot:
    groups: dict[str, GroupLag]
    end_offsets: dict[TP, int]
    taken_at: float
    seconds: float

    @property
    def total_lag(self) -> int:
        return sum(g.lag for g in self.groups.values())


def list_groups(cluster: Cluster) -> list[str]:
    """Every consumer group the cluster lists (classic and KIP-848 consumer groups)."""
    result = cluster.admin.list_consumer_groups(request_timeout=TIMEOUT).result(timeout=TIMEOUT)
    return sorted(g.group_id for g in result.valid)


def commit_offsets(cluster: Cluster, requests: list[ConsumerGroupTopicPartitions]) -> None:
    """Commit offsets for (empty) groups; an error on any partition raises. A fresh cluster
    may answer a commit as done while the group coordinator is still loading: the error is on
    the partitions, not on the call."""
    futures = {}
    for request in requests:  # one group per AlterConsumerGroupOffsets request
        futures.update(
            cluster.admin.alter_consumer_group_offsets([request], request_timeout=TIMEOUT)
        )
    failed, passing = [], True
    for group, result in gather(futures, f"commit offsets on {cluster.name}").items():
        for tp in result.topic_partitions:
            if tp.error is not None:
                passing = passing and (tp.error.code() in PASSING or tp.error.retriable())
                failed.append(f"{group} {tp.topic}[{tp.partition}]: {tp.error.str()}")
    if failed:
        raise KafkaOpError(
            f"commit offsets on {cluster.name} failed for " + "; ".join(failed[:5]),
            retriable=passing,
        )


def committed_offsets(cluster: Cluster, groups: Iterable[str]) -> dict[str, dict[TP, int]]:
    """Every committed offset of each group, all OffsetFetch requests in flight together."""
    futures = {}
    for group in groups:
        futures.update(
            cluster.admin.list_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(group)], request_timeout=TIMEOUT
            )
        )
    results = gather(futures, f"fetch committed offsets on {cluster.name}")
    return {
        group: {
            (tp.topic, tp.partition): tp.offset for tp in result.topic_partitions if tp.offset >= 0
        }
        for group, result in results.items()
    }


def end_offsets(
    cluster: Cluster, partitions: Iterable[TP], *, committed_only: bool = False
) -> dict[TP, int]:
    """High watermarks (or last stable offsets) of many partitions in one ListOffsets call."""
    spec = OffsetSpec.latest()
    request = {TopicPartition(t, p): spec for t, p in set(partitions)}
    if not request:
        return {}
    isolation = IsolationLevel.READ_COMMITTED if committed_only else IsolationLevel.READ_UNCOMMITTED
    results = gather(
        cluster.admin.list_offsets(request, isolation_level=isolation, request_timeout=TIMEOUT),
        f"list offsets on {cluster.name}",
    )
    return {(tp.topic, tp.partition): info.offset for tp, info in results.items()}


def start_offsets(cluster: Cluster, partitions: Iterable[TP]) -> dict[TP, int]:
    spec = OffsetSpec.earliest()
    request = {TopicPartition(t, p): spec for t, p in set(partitions)}
    if not request:
        return {}
    results = gather(
        cluster.admin.list_offsets(request, request_timeout=TIMEOUT),
        f"list start offsets on {cluster.name}",
    )
    return {(tp.topic, tp.partition): info.offset for tp, info in results.items()}


def describe_groups(cluster: Cluster, groups: list[str]) -> dict[str, tuple[str, int]]:
    """group -> (state name, member count)."""
    if not groups:
        return {}
    results = gather(
        cluster.admin.describe_consumer_groups(groups, request_timeout=TIMEOUT),
        f"describe groups on {cluster.name}",
    )
    return {
        g: (d.state.name if hasattr(d.state, "name") else str(d.state), len(d.members))
        for g, d in results.items()
    }


def lag_snapshot(
    cluster: Cluster, topics: Iterable[str] | None = None, groups: Iterable[str] | None = None
) -> LagSnapshot:
    """Per group and partition: committed offset, end offset, lag; plus group state and members.

    With `topics`, only groups that have committed offsets on those topics are kept, and only
    those partitions are reported.
    """
    started = time.monotonic()
    wanted = set(topics) if topics is not None else None
    names = sorted(groups) if groups is not None else list_groups(cluster)
    committed = committed_offsets(cluster, names)
    if wanted is not None:
        committed = {
            g: {tp: o for tp, o in offs.items() if tp[0] in wanted} for g, offs in committed.items()
        }
        committed = {g: offs for g, offs in committed.items() if offs}
    states = describe_groups(cluster, sorted(committed))
    ends = end_offsets(cluster, {tp for offs in committed.values() for tp in offs})
    snapshot = {}
    for group, offsets in committed.items():
        state, members = states.get(group, ("UNKNOWN", 0))
        rows = [
            PartitionLag(t, p, off, ends[(t, p)], max(ends[(t, p)] - off, 0))
            for (t, p), off in sorted(offsets.items())
        ]
        snapshot[group] = GroupLag(group, state, members, rows)
    return LagSnapshot(snapshot, ends, time.time(), time.monotonic() - started)
