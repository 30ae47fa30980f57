"""Database tables (SQLModel): migrations, step runs, approvals, events (append-only), lag samples.

Secrets never reach these tables: clusters and replicators are stored by their config NAME.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Column, String, UniqueConstraint
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from bot.migration.state import MigrationState
from bot.migration.steps import Status, Step


def utcnow() -> datetime:
    return datetime.now(UTC)


class EnumText(TypeDecorator):
    """A StrEnum stored as its text (the column stays VARCHAR): read back as the enum."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[StrEnum], length: int):
        super().__init__(length)
        self.enum = enum

    def process_bind_param(self, value, dialect):
        return None if value is None else str(value)

    def process_result_value(self, value, dialect):
        return None if value is None else self.enum(value)


class StateJSON(TypeDecorator):
    """The working state: stored as the JSON it always was, read back as MigrationState."""

    impl = JSON
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return value.dump() if isinstance(value, MigrationState) else value

    def process_result_value(self, value, dialect):
        return MigrationState.load(value)


class Migration(SQLModel, table=True):
    __tablename__ = "migrations"

    id: str = Field(primary_key=True, max_length=40)  # short human id, e.g. "orders-7k2"
    name: str = Field(max_length=100)
    source: str = Field(max_length=63)  # cluster name in the config
    target: str = Field(max_length=63)
    replicator: str = Field(max_length=63)
    topics: str  # allow list, MM2 syntax (comma-separated Java regexes)
    exclude: str = ""
    replication_policy: str = Field(default="identity", max_length=16)
    status: Status = Field(
        default=Status.ACTIVE, sa_column=Column(EnumText(Status, 16), index=True, nullable=False)
    )
    step: Step = Field(sa_column=Column(EnumText(Step, 40), nullable=False))  # the current step
    version: int = Field(default=1)  # optimistic concurrency: every change bumps it
    requested_by: str = Field(max_length=100)
    channel: str | None = Field(default=None, max_length=40)
    card_ts: str | None = Field(default=None, max_length=40)
    selected_topics: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    groups: list[str] = Field(default_factory=list, sa_column=Column(JSON))
    options: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    # working data (gate round, snapshots, side effects): references to re-verify, not proofs
    state: MigrationState = Field(default_factory=MigrationState, sa_column=Column(StateJSON))
    reason: str | None = None  # why it is paused / failed / cancelled
    waiting_for: str | None = None  # what the current step waits for (live; not an event)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class StepRun(SQLModel, table=True):
    __tablename__ = "step_runs"
    __table_args__ = (UniqueConstraint("migration_id", "step", "attempt"),)

    id: int | None = Field(default=None, primary_key=True)
    migration_id: str = Field(foreign_key="migrations.id", index=True, ondelete="CASCADE")
    step: str = Field(max_length=40)
    attempt: int = Field(default=1)
    state: str = Field(default="pending", max_length=16)  # pending/running/done/failed/skipped
    actor: str | None = Field(default=None, max_length=100)
    reason: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    started_at: datetime | None = None
    finished_at: datetime | None = None


class TopicLock(SQLModel, table=True):
    """A topic is moved by at most one open migration: the primary key says so."""

    __tablename__ = "topic_locks"

    cluster: str = Field(primary_key=True, max_length=63)
    topic: str = Field(primary_key=True, max_length=249)
    migration_id: str = Field(foreign_key="migrations.id", index=True, ondelete="CASCADE")


class Approval(SQLModel, table=True):
    __tablename__ = "approvals"
    # one decision per actor per gate round: a double click records once
    __table_args__ = (UniqueConstraint("migration_id", "step", "version", "actor"),)

    id: int | None = Field(default=None, primary_key=True)
    migration_id: str = Field(foreign_key="migrations.id", index=True, ondelete="CASCADE")
    step: str = Field(max_length=40)
    decision: str = Field(max_length=16)  # approved / rejected
    actor: str = Field(max_length=100)
    interface: str = Field(max_length=16)  # where it was decided: slack / cli
    version: int  # the migration version the approver was shown
    reason: str | None = None
    created_at: datetime = Field(default_factory=utcnow)


class Lease(SQLModel, table=True):
    """Which `serve` process moves migrations: one holder at a time, renewed before it expires;
    another process takes over once it has expired (its holder died)."""

    __tablename__ = "leases"

    name: str = Field(primary_key=True, max_length=40)
    holder: str = Field(max_length=200)  # host:pid:nonce
    expires_at: datetime


class GateMessage(SQLModel, table=True):
    """A gate request posted in Slack: its buttons act only for this migration, step and version,
    and only while the gate is open; when it closes, why (shown in place of the buttons)."""

    __tablename__ = "gate_messages"

    channel: str = Field(primary_key=True, max_length=40)
    ts: str = Field(primary_key=True, max_length=40)
    migration_id: str = Field(foreign_key="migrations.id", index=True, ondelete="CASCADE")
    step: str = Field(max_length=40)
    version: int  # the migration version the request was posted at
    text: str  # the request as posted (the first section), kept when the buttons go
    closed: str | None = None
    created_at: datetime = Field(default_factory=utcnow)


class EventKind(StrEnum):
    """What an audit event records (stored as its value)."""

    CREATED = "created"
    STEP_DONE = "step_done"
    FAILED = "failed"
    REGRESSED = "regressed"
    GATE_OPENED = "gate_opened"
    GATE_EXPIRED = "gate_expired"
    PAUSED = "paused"
    RESUMED = "resumed"
    RETRIED = "retried"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    REQUESTED = "requested"  # a finalize or a rollback asked for during the soak
    DECLINED = "declined"  # ... and rejected: the soak goes on
    REFUSED = "refused"  # a decision or operation that was not allowed, with the reason
    UNDO = "undo"  # what a step in flight applied after a cancel, undone again
    REVERIFY = "reverify"


class Event(SQLModel, table=True):
    """The audit trail: who did what, when and why. Rows are only ever inserted."""

    __tablename__ = "events"

    id: int | None = Field(default=None, primary_key=True)
    migration_id: str = Field(foreign_key="migrations.id", index=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor: str = Field(max_length=100)
    kind: str = Field(max_length=40)  # an EventKind
    step: str | None = Field(default=None, max_length=40)
    message: str
    reason: str | None = None
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))


class LagSample(SQLModel, table=True):
    __tablename__ = "lag_samples"

    id: int | None = Field(default=None, primary_key=True)
    migration_id: str = Field(foreign_key="migrations.id", index=True, ondelete="CASCADE")
    at: datetime = Field(default_factory=utcnow, index=True)
    replication_lag: int | None = None  # records behind, summed over partitions
    consumer_lag: int | None = None
    partitions_behind: int | None = None
