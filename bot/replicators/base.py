"""The replicator interface: one MirrorMaker 2 flow per migration, managed idempotently."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.errors import ReplicatorError
from bot.kafka.cluster import TP
from bot.kafka.naming import TopicNaming
from bot.replicators.tasks import TaskSizing

if TYPE_CHECKING:
    from bot.aiven.service import AivenService

__all__ = ["Finding", "FlowSpec", "Replicator", "ReplicatorError", "ReplicatorStatus"]


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
    checkpoints: bool = True  # False: no checkpoint connector (a reverse flow hands offsets itself)
    read_committed: bool = True  # copy committed records only (no aborted transactions)
    tasks_max: int | None = None  # the MirrorSourceConnector's, as decided (tasks.py); None: 4
    # the Aiven service each side is (it joins an Aiven MM2 service directly), or None
    source_aiven: AivenService | None = None
    target_aiven: AivenService | None = None

    @property
    def naming(self) -> TopicNaming:
        """How MM2 names this flow's topics on the target."""
        return TopicNaming(self.replication_policy, self.source_alias)

    def __repr__(self) -> str:  # never show the client settings (they hold passwords)
        return f"FlowSpec(name={self.name!r}, topics={self.topics!r})"


@dataclass(frozen=True)
class ReplicatorStatus:
    running: bool
    parts: dict[str, str]  # connector (or flow) -> state
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Finding:
    """One preflight check of a replicator, as a line: what was checked and what was found."""

    ok: bool  # False: the migration cannot start until this is fixed
    text: str
    warning: bool = False

    def __str__(self) -> str:
        mark = "ok" if self.ok and not self.warning else ("warning" if self.ok else "problem")
        return f"{mark}: {self.text}"


class Replicator(ABC):
    """What the runbook asks of a replicator. The optional hooks at the end do nothing here;
    a replicator with a service of its own (Aiven) overrides them."""

    @abstractmethod
    def check(self) -> None:
        """Raise when the replicator cannot be reached (asked before a migration starts)."""

    @abstractmethod
    def ensure(self, flow: FlowSpec) -> list[str]:
        """Create or update the flow; changes nothing when it already matches. Returns its parts."""

    @abstractmethod
    def status(self, flow: FlowSpec) -> ReplicatorStatus: ...

    @abstractmethod
    def replicated_offsets(self, flow: FlowSpec) -> dict[TP, int]:
        """The source offset OF the last replicated record, per source partition."""

    @abstractmethod
    def restart(self, flow: FlowSpec) -> None:
        """Restart what failed (connectors, tasks), for a retry."""

    @abstractmethod
    def pause(self, flow: FlowSpec) -> None: ...

    @abstractmethod
    def resume(self, flow: FlowSpec) -> None: ...

    @abstractmethod
    def delete(self, flow: FlowSpec) -> None: ...

    @abstractmethod
    def start_from(self, flow: FlowSpec, starts: Mapping[TP, int]) -> list[str]:
        """Create the flow so that it copies each source partition from `starts[tp]` on (its
        end offset at the cutover) and nothing before: created without running, the start
        positions written and read back, then started. A flow that was started already is
        left as it is (a restart never moves it back). Returns its parts."""

    # optional hooks ------------------------------------------------------------------------
    @property
    def where(self) -> str:
        """The replicator as named in messages."""
        return repr(self)

    def gone(self, flow: FlowSpec) -> bool:
        """The flow's parts are all gone (after a delete): nothing of it copies any more."""
        return all(state == "MISSING" for state in self.status(flow).parts.values())

    def kafka_cluster_id(self) -> str | None:
        """The id of the Kafka cluster the replicator writes into, when it can say (a Connect
        worker's own cluster: where a MirrorSourceConnector's records go)."""
        return None

    def preflight_findings(self, flow: FlowSpec, *, schemas: bool = False) -> list[Finding]:
        """The replicator's own preflight checks (none here)."""
        return []

    def size_tasks(self, partitions: int) -> TaskSizing | None:
        """The tasks its flow should run for `partitions` source partitions, and why; None:
        the replicator sizes itself (a managed service)."""
        return None

    def prepare(
        self, progress: Callable[[str], None] | None = None, *, wait: bool = True
    ) -> Mapping[str, Any] | None:
        """The replicator's own service brought up (created when missing and allowed), waited
        for until it runs unless `wait` is False: the service as it is then, its `state`
        included. None: the replicator has no service of its own to wait for."""
        return None
