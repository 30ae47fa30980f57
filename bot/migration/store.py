"""Persistence of migrations: conditional updates, topic locks, the audit trail.

Every change of a migration is `UPDATE ... WHERE id = ? AND version = ?`: when two actors
(a tick and a click, two engines) race, one wins and the other gets ConcurrentUpdate and
re-reads. Topic locks make a topic belong to at most one open migration.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, update
from sqlalchemy.engine import Engine as Database  # SQLAlchemy's: `db` throughout
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import select

from bot.db import session_scope
from bot.errors import UserError, shown
from bot.migration.steps import OPEN
from bot.models import (
    Approval,
    Event,
    EventKind,
    GateMessage,
    LagSample,
    Lease,
    Migration,
    StepRun,
    TopicLock,
)

ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"


class ConcurrentUpdate(UserError):
    """The migration changed under us; re-read and decide again."""


def now() -> datetime:
    return datetime.now(UTC)


def _aware(at: datetime) -> datetime:
    """SQLite hands datetimes back without their zone; they were written in UTC."""
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def new_id(name: str) -> str:
    return f"{name}-{''.join(secrets.choice(ALPHABET) for _ in range(3))}"


class Store:
    def __init__(self, db: Database):
        self.db = db

    # migrations ---------------------------------------------------------------------------
    def create(
        self, migration: Migration, actor: str, origin: dict[str, Any] | None = None
    ) -> Migration:
        """Insert the migration and lock its topics, or change nothing and say who holds one."""
        try:
            with session_scope(self.db) as session:
                session.add(migration)
                session.flush()
                for topic in migration.selected_topics:
                    session.add(
                        TopicLock(cluster=migration.source, topic=topic, migration_id=migration.id)
                    )
                session.flush()
                session.add(
                    Event(
                        migration_id=migration.id,
                        actor=actor,
                        kind=EventKind.CREATED,
                        step=migration.step,
                        message=f"migration {migration.id} created",
                        data={"topics": len(migration.selected_topics), **(origin or {})},
                    )
                )
        except IntegrityError:
            held = self.locks_held(migration.source, migration.selected_topics)
            if not held:
                raise
            listed = ", ".join(f"{t} (by {m})" for t, m in sorted(held.items())[:10])
            raise UserError(f"topics already in an open migration: {listed}") from None
        return migration

    def locks_held(self, cluster: str, topics: list[str]) -> dict[str, str]:
        with session_scope(self.db) as session:
            rows = session.exec(
                select(TopicLock).where(TopicLock.cluster == cluster, TopicLock.topic.in_(topics))
            ).all()
            return {row.topic: row.migration_id for row in rows}

    def get(self, migration_id: str) -> Migration:
        with session_scope(self.db) as session:
            found = session.get(Migration, migration_id)
        if found is None:
            raise UserError(f"no migration {shown(migration_id)} (see: list)")
        return found

    def list(self, *, open_only: bool = False) -> list[Migration]:
        with session_scope(self.db) as session:
            query = select(Migration).order_by(Migration.created_at)
            if open_only:
                query = query.where(Migration.status.in_([s.value for s in OPEN]))
            return list(session.exec(query).all())

    def save(
        self,
        migration: Migration,
        expected_version: int,
        *,
        actor: str,
        kind: EventKind,
        message: str,
        reason: str | None = None,
        data: dict[str, Any] | None = None,
        step: str | None = None,
    ) -> Migration:
        """Write the migration if nobody changed it since `expected_version`; bump the version
        and append the event in the same transaction."""
        fields = {
            "status": migration.status,
            "step": migration.step,
            "state": migration.state,
            "reason": migration.reason,  # card_ts and channel: set_card's alone
            "groups": migration.groups,
            "version": expected_version + 1,
            "updated_at": now(),
        }
        with session_scope(self.db) as session:
            result = session.exec(
                update(Migration)
                .where(Migration.id == migration.id, Migration.version == expected_version)
                .values(**fields)
            )
            if result.rowcount != 1:
                raise ConcurrentUpdate(
                    f"{migration.id} changed meanwhile (expected version "
                    f"{expected_version}); look again and retry"
                )
            session.add(
                Event(
                    migration_id=migration.id,
                    actor=actor,
                    kind=kind,
                    step=step or migration.step,
                    message=message,
                    reason=reason,
                    data=data or {},
                )
            )
            if migration.status not in OPEN:
                session.exec(delete(TopicLock).where(TopicLock.migration_id == migration.id))
        migration.version = expected_version + 1
        return migration

    def set_waiting_for(self, migration_id: str, waiting_for: str) -> None:
        """What the current step waits for: progress, not a state change (no version bump)."""
        with session_scope(self.db) as session:
            session.exec(
                update(Migration)
                .where(Migration.id == migration_id)
                .values(waiting_for=waiting_for)
            )

    def record_state(self, migration_id: str, key: str, value: Any) -> int:
        """Put one key of the migration's working state now: a side effect about to be applied
        (what a cancel must undo). The version moves on, so that a writer who read the state
        before (a cancel deciding what to undo) is refused and reads it again. Returns the new
        version."""
        with session_scope(self.db) as session:
            m = session.get(Migration, migration_id, with_for_update=True)
            if m is None:
                raise UserError(f"no migration {shown(migration_id)}")
            version = m.version + 1
            session.exec(
                update(Migration)
                .where(Migration.id == migration_id)
                .values(state={**m.state.dump(), key: value}, version=version)
            )
        return version

    def set_card(self, migration_id: str, channel: str, ts: str) -> None:
        """Where the migration's card lives (no version bump: the state did not change)."""
        with session_scope(self.db) as session:
            session.exec(
                update(Migration)
                .where(Migration.id == migration_id)
                .values(channel=channel, card_ts=ts)
            )

    # the lease: which process moves migrations -----------------------------------------------
    def hold_lease(
        self, name: str, holder: str, ttl_seconds: float, stale_holder: str | None = None
    ) -> Lease:
        """Take or renew the lease if it is free, expired, ours, or held by `stale_holder` (a
        holder known dead); returns the lease as it now stands (its holder tells who won)."""
        until = now() + timedelta(seconds=ttl_seconds)
        try:
            with session_scope(self.db) as session:
                lease = session.get(Lease, name, with_for_update=True)
                if lease is None:
                    lease = Lease(name=name, holder=holder, expires_at=until)
                    session.add(lease)
                elif lease.holder in (holder, stale_holder) or _aware(lease.expires_at) < now():
                    lease.holder, lease.expires_at = holder, until
                session.flush()
                return Lease(name=name, holder=lease.holder, expires_at=lease.expires_at)
        except (IntegrityError, OperationalError):  # another process wrote it first
            with session_scope(self.db) as session:
                found = session.get(Lease, name)
                return Lease(name=name, holder=found.holder, expires_at=found.expires_at)

    def release_lease(self, name: str, holder: str) -> None:
        with session_scope(self.db) as session:
            session.exec(delete(Lease).where(Lease.name == name, Lease.holder == holder))

    # gate requests posted in Slack ----------------------------------------------------------
    def add_gate_message(self, message: GateMessage) -> None:
        with session_scope(self.db) as session:
            session.add(message)

    def gate_message(self, channel: str, ts: str) -> GateMessage | None:
        with session_scope(self.db) as session:
            return session.get(GateMessage, (channel, ts))

    def open_gate_messages(self, migration_id: str) -> list[GateMessage]:
        with session_scope(self.db) as session:
            return list(
                session.exec(
                    select(GateMessage).where(
                        GateMessage.migration_id == migration_id, GateMessage.closed.is_(None)
                    )
                ).all()
            )

    def close_gate_message(self, channel: str, ts: str, why: str) -> bool:
        """Mark it closed; False when it already was (someone else closed it first)."""
        with session_scope(self.db) as session:
            done = session.exec(
                update(GateMessage)
                .where(
                    GateMessage.channel == channel,
                    GateMessage.ts == ts,
                    GateMessage.closed.is_(None),
                )
                .values(closed=why[:500])
            )
            return done.rowcount == 1

    # events and step runs -----------------------------------------------------------------
    def event(
        self,
        migration_id: str,
        *,
        actor: str,
        kind: EventKind,
        message: str,
        step: str | None = None,
        reason: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        with session_scope(self.db) as session:
            session.add(
                Event(
                    migration_id=migration_id,
                    actor=actor,
                    kind=kind,
                    step=step,
                    message=message,
                    reason=reason,
                    data=data or {},
                )
            )

    def events(self, migration_id: str) -> list[Event]:
        with session_scope(self.db) as session:
            return list(
                session.exec(
                    select(Event).where(Event.migration_id == migration_id).order_by(Event.id)
                ).all()
            )

    def step_runs(self, migration_id: str) -> list[StepRun]:
        with session_scope(self.db) as session:
            return list(
                session.exec(
                    select(StepRun).where(StepRun.migration_id == migration_id).order_by(StepRun.id)
                ).all()
            )

    def run_step(self, migration_id: str, step: str, *, actor: str) -> StepRun:
        """The running StepRun of `step`, started now if none is running."""
        with session_scope(self.db) as session:
            runs = session.exec(
                select(StepRun)
                .where(StepRun.migration_id == migration_id, StepRun.step == step)
                .order_by(StepRun.attempt)
            ).all()
            if runs and runs[-1].state == "running":
                return runs[-1]
            run = StepRun(
                migration_id=migration_id,
                step=step,
                attempt=len(runs) + 1,
                state="running",
                actor=actor,
                started_at=now(),
            )
            session.add(run)
            return run

    def finish_step(
        self,
        migration_id: str,
        step: str,
        state: str,
        *,
        actor: str,
        reason: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        with session_scope(self.db) as session:
            run = session.exec(
                select(StepRun)
                .where(StepRun.migration_id == migration_id, StepRun.step == step)
                .order_by(StepRun.attempt.desc())
            ).first()
            if run is None or run.state != "running":
                run = StepRun(
                    migration_id=migration_id,
                    step=step,
                    attempt=(run.attempt + 1) if run else 1,
                    started_at=now(),
                )
                session.add(run)
            run.state, run.actor, run.reason = state, actor, reason
            run.detail = detail or {}
            run.finished_at = now()

    # approvals ----------------------------------------------------------------------------
    def approvals(self, migration_id: str, step: str, version: int | None = None) -> list[Approval]:
        with session_scope(self.db) as session:
            query = select(Approval).where(
                Approval.migration_id == migration_id, Approval.step == step
            )
            if version is not None:
                query = query.where(Approval.version == version)
            return list(session.exec(query.order_by(Approval.id)).all())

    def all_approvals(self, migration_id: str) -> list[Approval]:
        with session_scope(self.db) as session:
            return list(
                session.exec(
                    select(Approval)
                    .where(Approval.migration_id == migration_id)
                    .order_by(Approval.id)
                ).all()
            )

    def last_decisions(self) -> dict[str, int]:
        """The id of the latest decision per migration (a new one: a gate may pass)."""
        with session_scope(self.db) as session:
            rows = session.exec(
                select(Approval.migration_id, func.max(Approval.id)).group_by(Approval.migration_id)
            ).all()
        return {migration_id: latest for migration_id, latest in rows}

    def add_approval(self, approval: Approval, origin: dict[str, Any] | None = None) -> bool:
        """Record a decision (and its audit event, with where it came from); False when this
        actor already decided at this version."""
        try:
            with session_scope(self.db) as session:
                session.add(approval)
                session.flush()
                session.add(
                    Event(
                        migration_id=approval.migration_id,
                        actor=approval.actor,
                        kind=approval.decision,
                        step=approval.step,
                        message=f"{approval.step} {approval.decision} by "
                        f"{approval.actor} from {approval.interface}",
                        reason=approval.reason,
                        data={"version": approval.version, **(origin or {})},
                    )
                )
        except IntegrityError:
            return False
        return True

    # lag ----------------------------------------------------------------------------------
    def add_lag(
        self,
        migration_id: str,
        replication: int | None,
        consumer: int | None,
        partitions_behind: int | None,
    ) -> None:
        with session_scope(self.db) as session:
            session.add(
                LagSample(
                    migration_id=migration_id,
                    replication_lag=replication,
                    consumer_lag=consumer,
                    partitions_behind=partitions_behind,
                )
            )

    def lag_samples(self, migration_id: str, limit: int = 500) -> list[LagSample]:
        with session_scope(self.db) as session:
            rows = session.exec(
                select(LagSample)
                .where(LagSample.migration_id == migration_id)
                .order_by(LagSample.id.desc())
                .limit(limit)
            ).all()
        return list(reversed(rows))
