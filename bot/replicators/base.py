"""The replicator interface: one MirrorMaker 2 flow per migration, managed idempotently."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from bot.kafka.cluster import TP


class ReplicatorError(RuntimeError):
    """The replicator refused or failed; the message names the call and its answer.
    `retriable`: it may pass (the worker unreachable, restarting, rebalancing, a 5xx)."""

    def __init__(self, message: str, retriable: bool = False):
        super().__init__(message)
        self.retriable = retriable


@dataclass(frozen=True)
class FlowSpec:
    """Everything MM2 needs for one source -> target flow (design section 1, step 7)."""

    name: str  # the migration id; connector names derive from it
    source: Mapping[str, str]  # librdkafka-style client settings, secrets included
    target: Mapping[str, str]
    topics: list[str]  # MM2 allow list (Java regexes)
    topics_exclude: list[str] = field(default_factory=list)
    groups: list[str] = field(default_factory=lambda: [".*"])
    groups_exclude: list[str] = field(default_factory=list)  # empty: MM2's default exclusions
    source_alias: str = "source"
    target_alias: str = "target"
    replication_policy: str = "identity"  # identity | default
    replication_factor: int = -1  # -1: the target's default
    sync_group_offsets: bool = False
    sync_group_offsets_interval_s: int = 60
    emit_checkpoints_interval_s: int = 5
    offset_syncs_location: str = "target"  # source | target
    offset_lag_max: int = 100
    emit_heartbeats: bool = True
    read_committed: bool = True  # copy committed records only (no aborted transactions)

    def __repr__(self) -> str:  # never show the client settings (they hold passwords)
        return f"FlowSpec(name={self.name!r}, topics={self.topics!r})"


@dataclass(frozen=True)
class ReplicatorStatus:
    running: bool
    parts: dict[str, str]  # connector (or flow) -> state
    errors: list[str] = field(default_factory=list)


class Replicator(Protocol):
    def check(self) -> None:
        """Raise when the replicator cannot be reached (asked before a migration starts)."""

    def ensure(self, flow: FlowSpec) -> list[str]:
        """Create or update the flow; changes nothing when it already matches. Returns its parts."""

    def status(self, flow: FlowSpec) -> ReplicatorStatus: ...

    def replicated_offsets(self, flow: FlowSpec) -> dict[TP, int]:
        """The source offset OF the last replicated record, per source partition."""

    def restart(self, flow: FlowSpec) -> None:
        """Restart what failed (connectors, tasks), for a retry."""

    def pause(self, flow: FlowSpec) -> None: ...

    def resume(self, flow: FlowSpec) -> None: ...

    def delete(self, flow: FlowSpec) -> None: ...
