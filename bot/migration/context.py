"""What a step sees: the migration, its clusters and replicator, and what this process observed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from bot.kafka.cluster import Cluster
from bot.kafka.fence import ProducerWatch
from bot.kafka.tails import Tails
from bot.migration.state import MigrationState
from bot.models import Migration
from bot.replicators.base import FlowSpec, Replicator


@dataclass
class Observations:
    """Point-in-time attestations observed by THIS process; empty again after a restart."""

    watch: ProducerWatch | None = None
    drain_since: float | None = None
    reverified: bool = False
    stall_reported: bool = False
    copied: list[int] = field(default_factory=list)  # MM2's copied position, per catch_up poll
    figures: dict[str, Any] = field(default_factory=dict)  # what the last live check measured
    degraded_since: float | None = None  # a transient fault holds the step since then
    back_watch: ProducerWatch | None = None  # the target's producers, on the way back
    back_drain_since: float | None = None
    alerted: str | None = None  # the last alert said in the channel (said once)
    tails: Tails = field(default_factory=Tails)  # partitions' last records, kept across looks


class Outcome(StrEnum):
    DONE = "done"  # verified: the runbook moves on
    WAITING = "waiting"  # the condition does not hold yet
    FAILED = "failed"  # a definite error: retry or cancel
    REGRESS = "regress"  # a verified condition broke: back to an earlier step


@dataclass
class Result:
    outcome: Outcome
    message: str
    detail: dict[str, Any] = field(default_factory=dict)
    to_step: str | None = None  # for regress
    lag: int | None = None  # replication lag, when measured
    consumer_lag: int | None = None  # total consumer lag of the selection's groups, when measured

    @classmethod
    def done(cls, message: str, **detail: Any) -> Result:
        """Done; a `lag`/`consumer_lag` in the detail is the figure decided on, and sampled."""
        return cls(
            Outcome.DONE,
            message,
            detail,
            lag=detail.get("lag"),
            consumer_lag=detail.get("consumer_lag"),
        )

    @classmethod
    def waiting(
        cls, message: str, lag: int | None = None, consumer_lag: int | None = None, **detail: Any
    ) -> Result:
        return cls(Outcome.WAITING, message, detail, lag=lag, consumer_lag=consumer_lag)

    @classmethod
    def failed(cls, message: str, **detail: Any) -> Result:
        return cls(Outcome.FAILED, message, detail)

    @classmethod
    def regress(cls, to_step: str, message: str, **detail: Any) -> Result:
        return cls(Outcome.REGRESS, message, detail, to_step=to_step)


@dataclass
class Context:
    migration: Migration
    source: Cluster
    target: Cluster
    replicator: Replicator
    flow: FlowSpec
    timing: Any  # config.Timing
    observed: Observations
    now: float
    persist: Callable[[str, Any], int | None] = lambda _key, _value: None
    registries: tuple[Any, Any] | None = None  # (source, target) schema registries, if named
    connect: tuple[Any, Any] | None = None  # (old, new) Connect clusters whose connectors move
    back: tuple[Replicator, FlowSpec] | None = None  # the reverse flow's replicator, and flow

    def record_side_effect(self, key: str, value: Any) -> None:
        """Write down a side effect BEFORE applying it (the fence, the connectors), so that a
        cancel or a restart finds it even if this process dies right after applying it."""
        self.store_now(key, value)

    def store_now(self, key: str, value: Any) -> None:
        """Store one key of the working state now, not when the step ends (a side effect, or
        what the card shows while the step waits)."""
        self.state[key] = value  # a known key (MigrationState), typed on assignment
        version = self.persist(key, value)
        if version is not None:
            self.migration.version = version

    @property
    def topics(self) -> list[str]:
        return list(self.migration.selected_topics)

    @property
    def state(self) -> MigrationState:
        return self.migration.state

    @property
    def options(self) -> dict[str, Any]:
        return self.migration.options
