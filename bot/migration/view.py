"""The read model: frozen views of a migration, the list, the final report and a plan.

The domain produces them (from the store, or `Verbs.plan`); the presenters only render them:
`bot/cli_text.py` (CLI text, and JSON through `to_dict`) and `bot/slack/blocks.py` (Block Kit).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from bot.migration.compensation import undo_plan
from bot.migration.pace import eta_seconds
from bot.migration.steps import BACK, INFO, Step, rollback_hint
from bot.migration.store import Store
from bot.models import Migration


@dataclass(frozen=True)
class StepLine:
    step: str
    kind: str  # auto / wait / gate
    title: str
    state: str  # pending / running / done / failed / skipped / regressed
    actor: str | None
    seconds: float | None  # how long it took, once finished
    reason: str | None


@dataclass(frozen=True)
class Gate:
    """An approval gate as it was opened: the version approvals must name, and the figures
    the request was decided on."""

    step: str
    version: int
    opened_at: float
    decided: Mapping[str, Any]  # e.g. replication_lag and when ("at") it was measured
    preview: Mapping[str, Any] | None = None  # the repoint's handover preview

    @property
    def decided_lag(self) -> int | None:
        return self.decided.get("replication_lag")

    @property
    def decided_at(self) -> float | None:
        return self.decided.get("at")


@dataclass(frozen=True)
class ConnectorLine:
    """A connector that moves with the migration: its state on the old and the new Connect."""

    name: str
    kind: str  # source | sink
    cls: str
    topics: tuple[str, ...]
    old_state: str  # on connect_from
    new_state: str  # on connect_to (MISSING until the copy is created)
    offsets: int  # source offsets copied (a sink's group is handed over with the others)
    group: str | None

    def text(self) -> str:
        moved = f", {self.offsets} offset(s) copied" if self.offsets else ""
        group = f", group {self.group}" if self.group else ""
        return (
            f"{self.name} ({self.kind}, {self.cls.rsplit('.', 1)[-1]}): old {self.old_state}, "
            f"new {self.new_state}{moved}{group}"
        )


def connector_lines(connectors: Mapping[str, Any] | None) -> tuple[ConnectorLine, ...]:
    moves = (connectors or {}).get("moves", {})
    return tuple(
        ConnectorLine(
            name=name,
            kind=m["kind"],
            cls=m["cls"],
            topics=tuple(m.get("topics", ())),
            old_state=m.get("state", "?"),
            new_state=m.get("target_state", "?"),
            offsets=len(m.get("offsets") or ()),
            group=m.get("group"),
        )
        for name, m in sorted(moves.items())
    )


@dataclass(frozen=True)
class MigrationView:
    id: str
    name: str
    status: str
    step: str
    version: int
    waiting_for: str | None
    reason: str | None
    source: str
    target: str
    replicator: str
    replication_policy: str
    topics: tuple[str, ...]
    groups: tuple[str, ...]
    requested_by: str
    steps: tuple[StepLine, ...]
    replication_lag: int | None
    consumer_lag: int | None
    eta_seconds: float | None
    gate: Gate | None
    rollback: str  # what undoing the current step means
    undo: tuple[str, ...]  # what a cancel would take back
    connectors: tuple[ConnectorLine, ...] = ()  # Kafka Connect connectors moving with it
    reverse: str | None = None  # the reverse flow's replicator (reverse_via), if any
    soak: Mapping[str, Any] | None = None  # since, seconds
    foreign_writes: tuple[tuple[str, int, int], ...] = ()  # on the source, not copied back

    @property
    def gate_open(self) -> bool:
        """A gate request is open at the current step."""
        return self.gate is not None and self.gate.step == self.step

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["topics"], data["groups"] = list(self.topics), list(self.groups)
        data["steps"] = [asdict(s) for s in self.steps]
        data["undo"] = list(self.undo)
        data["connectors"] = [asdict(c) | {"topics": list(c.topics)} for c in self.connectors]
        data["foreign_writes"] = [list(f) for f in self.foreign_writes]
        if self.gate is not None:
            gate = {k: v for k, v in asdict(self.gate).items() if k != "preview"}
            data["gate"] = gate | ({"preview": self.gate.preview} if self.gate.preview else {})
        return data


@dataclass(frozen=True)
class Row:
    """One migration in the list."""

    id: str
    status: str
    step: str
    version: int
    topics: int
    requested_by: str


@dataclass(frozen=True)
class ApprovalLine:
    step: str
    decision: str
    actor: str
    interface: str  # where it was decided: slack / cli
    version: int
    at: str  # ISO 8601


@dataclass(frozen=True)
class EventLine:
    at: str  # ISO 8601
    actor: str
    kind: str
    step: str | None
    message: str
    reason: str | None
    host: str | None  # the machine a CLI decision came from


@dataclass(frozen=True)
class Report:
    """The final report: the migration, who decided what, its timeline, and what was proved."""

    migration: MigrationView
    approvals: tuple[ApprovalLine, ...]
    timeline: tuple[EventLine, ...]
    handover: Mapping[str, Mapping[str, int]] | None  # group -> how its offsets were set
    verify: Mapping[str, Any] | None
    schemas: Mapping[str, Any] | None
    lag_samples: tuple[tuple[str, int | None], ...]
    handback: Mapping[str, Mapping[str, int]] | None = None  # on the way back, group -> kinds

    def handover_text(self, back: bool = False) -> str:
        """e.g. "billing: 5 exact; analytics: 4 exact, 2 translated" (— before the handover);
        `back`: the handback of a rollback."""
        handed = self.handback if back else self.handover
        if not handed:
            return "—"
        return "; ".join(
            f"{group}: " + ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
            for group, kinds in sorted(handed.items())
        )

    def to_dict(self) -> dict[str, Any]:
        return self.migration.to_dict() | {
            "approvals": [asdict(a) for a in self.approvals],
            "timeline": [asdict(e) for e in self.timeline],
            "handover": self.handover,
            "handback": self.handback,
            "verify": self.verify,
            "schemas": self.schemas,
            "lag_samples": [list(s) for s in self.lag_samples],
        }


@dataclass(frozen=True)
class TopicLine:
    """One topic in a plan: what the bot would do to it on the target."""

    source: str
    target: str
    partitions: int
    actions: tuple[str, ...]
    configs: Mapping[str, str]
    problems: tuple[str, ...]
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    """What `start` would do, changing nothing."""

    topics: tuple[str, ...]
    excluded: tuple[str, ...]
    internal: tuple[str, ...]
    topic_lines: tuple[TopicLine, ...]
    summary: Mapping[str, int]
    schema_summary: Mapping[str, int] | None = None  # when registries are named
    schema_lines: tuple[str, ...] = ()
    connector_lines: tuple[str, ...] = ()  # when connect_from/connect_to are named
    connector_configs: Mapping[str, Mapping[str, str]] | None = None  # on the target, masked
    connector_problems: tuple[str, ...] = ()
    connector_warnings: tuple[str, ...] = ()
    replication_lines: tuple[str, ...] = ()  # what the replicator will run (MM2's tasks.max)
    reverse_lines: tuple[str, ...] = ()  # when reverse_via is named: what the way back relies on
    reverse_problems: tuple[str, ...] = ()

    @property
    def refused(self) -> bool:
        return (
            bool(self.summary.get("problems"))
            or bool(self.connector_problems)
            or bool(self.reverse_problems)
        )

    def to_dict(self) -> dict[str, Any]:
        schemas = None
        if self.schema_summary is not None:
            schemas = {"summary": dict(self.schema_summary), "lines": list(self.schema_lines)}
        return {
            "schema_plan": schemas,
            "topics": list(self.topics),
            "excluded": list(self.excluded),
            "internal": list(self.internal),
            "topic_plan": [
                asdict(t)
                | {
                    "actions": list(t.actions),
                    "configs": dict(t.configs),
                    "problems": list(t.problems),
                    "warnings": list(t.warnings),
                }
                for t in self.topic_lines
            ],
            "summary": dict(self.summary),
            "replication_plan": {"lines": list(self.replication_lines)},
            "reverse_plan": {
                "lines": list(self.reverse_lines),
                "problems": list(self.reverse_problems),
            },
            "connector_plan": {
                "lines": list(self.connector_lines),
                "configs": {k: dict(v) for k, v in (self.connector_configs or {}).items()},
                "problems": list(self.connector_problems),
                "warnings": list(self.connector_warnings),
            },
        }


def shown(step: Step, ran: bool, reverse: bool) -> bool:
    """The card lists the way forward; the soak with a reverse flow; a finalize request and
    the way back once they were entered (`ran`: it ran, or the way back was entered)."""
    if step == Step.SOAK:
        return reverse or ran
    if step == Step.FINALIZE or step in BACK:
        return ran
    return True


def migration_view(store: Store, migration_id: str) -> MigrationView:
    return _view(store, store.get(migration_id))


def _view(store: Store, m: Migration) -> MigrationView:
    """The view of `m` as loaded (a large migration's state is megabytes of JSON: loaded once
    for a view, once for a report)."""
    runs = {run.step: run for run in store.step_runs(m.id)}
    samples = store.lag_samples(m.id, 100)
    points = [
        (s.at.timestamp(), s.replication_lag) for s in samples if s.replication_lag is not None
    ]
    consumer = [s.consumer_lag for s in samples if s.consumer_lag is not None]
    steps = []
    back = any(step in runs for step in BACK)
    for info in INFO.values():
        run = runs.get(info.step)
        if not shown(
            info.step,
            run is not None or (back and info.step in BACK),
            bool(m.options.get("reverse_via")),
        ):
            continue
        seconds = None
        if run and run.started_at and run.finished_at:
            seconds = (run.finished_at - run.started_at).total_seconds()
        steps.append(
            StepLine(
                step=str(info.step),
                kind=str(info.kind),
                title=info.title,
                state=run.state if run else "pending",
                actor=run.actor if run else None,
                seconds=seconds,
                reason=run.reason if run else None,
            )
        )
    gate = m.state.gate
    return MigrationView(
        id=m.id,
        name=m.name,
        status=str(m.status),
        step=str(m.step),
        version=m.version,
        waiting_for=m.waiting_for,
        reason=m.reason,
        source=m.source,
        target=m.target,
        replicator=m.replicator,
        replication_policy=m.replication_policy,
        topics=tuple(m.selected_topics),
        groups=tuple(m.groups),
        requested_by=m.requested_by,
        steps=tuple(steps),
        replication_lag=points[-1][1] if points else None,
        consumer_lag=consumer[-1] if consumer else None,
        eta_seconds=eta_seconds(points),
        gate=Gate(
            step=str(gate.step),
            version=gate.version,
            opened_at=gate.opened_at,
            decided=gate.decided,
            preview=gate.preview,
        )
        if gate
        else None,
        rollback=rollback_hint(m.step, reverse=bool(m.options.get("reverse_via"))),
        undo=tuple(undo_plan(m.state, step=m.step)),
        connectors=connector_lines(m.state.connectors),
        reverse=m.options.get("reverse_via"),
        soak=m.state.soak,
        foreign_writes=tuple((t, int(p), int(n)) for t, p, n in m.state.foreign_writes or []),
    )


def rows(store: Store, open_only: bool = False) -> list[Row]:
    return [
        Row(
            id=m.id,
            status=str(m.status),
            step=str(m.step),
            version=m.version,
            topics=len(m.selected_topics),
            requested_by=m.requested_by,
        )
        for m in store.list(open_only=open_only)
    ]


def report(store: Store, migration_id: str) -> Report:
    m = store.get(migration_id)
    view = _view(store, m)
    return Report(
        migration=view,
        approvals=tuple(
            ApprovalLine(
                step=a.step,
                decision=a.decision,
                actor=a.actor,
                interface=a.interface,
                version=a.version,
                at=a.created_at.isoformat(),
            )
            for a in store.all_approvals(m.id)
        ),
        timeline=tuple(
            EventLine(
                at=e.at.isoformat(),
                actor=e.actor,
                kind=e.kind,
                step=e.step,
                message=e.message,
                reason=e.reason,
                host=(e.data or {}).get("host"),
            )
            for e in store.events(m.id)
        ),
        handover=m.state.handover,
        handback=m.state.handback,
        verify=m.state.verify,
        schemas=m.state.schemas,
        lag_samples=tuple(
            (s.at.isoformat(), s.replication_lag) for s in store.lag_samples(m.id, 1000)
        ),
    )
