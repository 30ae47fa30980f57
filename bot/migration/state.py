"""A migration's working state (the `migrations.state` JSON column), typed.

The steps write what they decided on and what they applied (side effects a cancel undoes);
`GateRound` is the open approval request of a gate, and alone answers whether it is open (for
this step, at this version), whose approvals count and whether they are enough. The JSON stored
keeps the keys it always had (a key the steps never wrote is absent, not null), so rows written
before load unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from bot.migration.steps import Step


class Decided(Protocol):  # an approvals row (bot.models.Approval)
    step: str
    version: int
    actor: str
    decision: str


class GateRound(BaseModel):
    """One approval request of a gate: opened at `version` (the state the approvers are shown),
    with the figures it was decided on and, for the repoint, the handover preview."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)

    step: Step
    opened_at: float
    version: int
    decided: dict[str, Any] = {}
    preview: dict[str, Any] | None = None

    def open_for(self, step: str, version: int | None = None) -> bool:
        """Open for approval of `step` (at `version`, when given)."""
        return self.step == step and (version is None or self.version == version)

    def expired(self, now: float, expiry_seconds: float) -> bool:
        return now - self.opened_at > expiry_seconds

    def whose(self, decided: Iterable[Decided]) -> tuple[str, ...]:
        """The actors who approved this round, in the order they did."""
        return tuple(
            a.actor
            for a in decided
            if a.decision == "approved" and a.step == self.step and a.version == self.version
        )

    def passed(self, decided: Iterable[Decided], required: int) -> bool:
        return len(self.whose(decided)) >= required


class MigrationState(BaseModel):
    """Each key as the steps write it; unknown keys (a newer release's) are kept."""

    model_config = ConfigDict(extra="allow", validate_assignment=True)

    # decided on (references to re-verify, not proofs)
    preflight: dict[str, Any] | None = None
    partitions: list[list[Any]] | None = None  # [topic, partition]
    groups_excluded: list[str] | None = None
    schemas: dict[str, Any] | None = None
    quiet_offsets: list[list[Any]] | None = None  # [topic, partition, source end offset]
    handover_ends: list[list[Any]] | None = None  # [topic, partition, target end offset]
    handover: dict[str, Any] | None = None  # group -> kinds of offsets handed over
    verify: dict[str, Any] | None = None
    mm2_service: str | None = None
    connectors: dict[str, Any] | None = None  # the connectors that move: plan and states, masked
    tasks: dict[str, Any] | None = None  # MM2's tasks.max as decided at the start (TaskSizing)
    # group -> [[topic, partition, source committed, target offset]] as handed over at cutover
    handover_offsets: dict[str, Any] | None = None
    soak: dict[str, Any] | None = None  # since, seconds, the reverse flow's figures
    foreign_writes: list[list[Any]] | None = None  # [topic, partition, records] not copied back
    requested: dict[str, Any] | None = None  # the open finalize/rollback request: step, by, at
    back_quiet: list[list[Any]] | None = (
        None  # [topic, partition, target end] quiet on the way back
    )
    handback: dict[str, Any] | None = None  # group -> kinds of offsets handed back
    handback_ends: list[list[Any]] | None = None  # [topic, partition, source end] at the handback
    gate: GateRound | None = None
    # side effects, recorded before they are applied (what a cancel undoes)
    replication: str | None = None  # the flow's name: its connectors
    fence: list[list[str]] | None = None  # DENY WRITE bindings on the source
    created_topics: list[str] | None = None
    created_acls: list[list[str]] | None = None
    created_schemas: list[list[Any]] | None = None  # [subject, version, id]
    connectors_stopped: dict[str, str] | None = None  # old Connect: name -> state before the stop
    connector_copies: list[str] | None = None  # created STOPPED on the new Connect
    reverse: str | None = None  # the reverse flow's name (target -> source)
    reverse_deleted: bool | None = None  # ... deleted at the handback (nothing copies back)
    back_fence: list[list[str]] | None = None  # DENY WRITE bindings on the target, on the way back
    cancel_cleanup: str | None = None

    @classmethod
    def load(cls, raw: dict[str, Any] | MigrationState | None) -> MigrationState:
        return raw if isinstance(raw, MigrationState) else cls.model_validate(raw or {})

    def dump(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)

    def round_at(self, step: str, version: int | None = None) -> GateRound | None:
        """The gate round open for `step` (at `version`, when given), or None."""
        return self.gate if self.gate and self.gate.open_for(step, version) else None

    def __setitem__(self, key: str, value: Any) -> None:
        """A key written by its name (a step records a side effect by the key it names)."""
        if key not in type(self).model_fields:
            raise KeyError(f"{key} is not a key of the working state")
        setattr(self, key, value)
