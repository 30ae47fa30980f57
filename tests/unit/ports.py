"""The engine's ports, held in memory, for the fast engine suite (no broker, no Connect).

`ScriptedRunbook` plays each step's outcome from a script (a list of Results or exceptions per
step, consumed one per tick; a step with nothing left is done) and keeps the two step actions
that touch only the replicator port real (start_replication, complete). `MemoryReplicator`
answers as the Connect replicator does: deleting or restarting a flow that is not there changes
nothing (Connect's 404 is taken as done), its status is "not running"; with `workers` set it
sizes its tasks by the real rule (bot/replicators/tasks.py), and keeps each flow it ensured.
`MemoryCluster` holds the ACL bindings and topics a compensation removes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import httpx

from bot.migration import actions
from bot.migration.context import Context, Result
from bot.migration.ports import Runbook
from bot.migration.steps import GATES, Kind, Step
from bot.replicators.base import FlowSpec, Replicator, ReplicatorError, ReplicatorStatus
from bot.replicators.tasks import TaskSizing, size_tasks

REAL = {Step.START_REPLICATION: actions.start_replication, Step.COMPLETE: actions.complete}


@dataclass
class MemoryCluster:
    name: str
    acls: set[tuple[str, ...]] = field(default_factory=set)
    topics: set[str] = field(default_factory=set)
    down: bool = False  # every call raises a transient fault

    def _reach(self) -> None:
        if self.down:
            raise TimeoutError(f"{self.name}: timed out")


class MemoryReplicator(Replicator):
    def __init__(self):
        self.flows: dict[str, str] = {}  # flow name -> connector state
        self.trace = ""
        self.calls: list[str] = []
        self.replicated: dict[tuple[str, int], int] = {}
        self.down = False  # Connect unreachable
        self.workers: int | None = None  # None: it sizes no tasks (as a managed service)
        self.ensured: list[FlowSpec] = []

    def size_tasks(self, partitions: int) -> TaskSizing | None:
        self.calls.append("size_tasks")
        return None if self.workers is None else size_tasks(partitions, self.workers)

    def _known(self, flow: FlowSpec) -> str:
        if flow.name not in self.flows:
            raise ReplicatorError(f"Connect does not know {flow.name}-source", retriable=True)
        return self.flows[flow.name]

    def check(self) -> None:
        self.calls.append("check")

    def ensure(self, flow: FlowSpec) -> list[str]:
        self.calls.append("ensure")
        self.ensured.append(flow)
        self.flows.setdefault(flow.name, "RUNNING")
        return [f"{flow.name}-source", f"{flow.name}-checkpoint"]

    def start_from(self, flow: FlowSpec, starts) -> list[str]:
        self.calls.append("start_from")
        self.starts = dict(starts)
        self.flows.setdefault(flow.name, "RUNNING")
        return [f"{flow.name}-source"]

    def status(self, flow: FlowSpec) -> ReplicatorStatus:
        if flow.name not in self.flows:
            return ReplicatorStatus(False, {})
        state = self.flows[flow.name]
        errors = [f"{flow.name}-source FAILED: {self.trace}"] if state == "FAILED" else []
        return ReplicatorStatus(state == "RUNNING", {f"{flow.name}-source": state}, errors)

    def replicated_offsets(self, flow: FlowSpec) -> dict[tuple[str, int], int]:
        self._known(flow)
        return dict(self.replicated)

    def restart(self, flow: FlowSpec) -> None:
        self.calls.append("restart")
        if flow.name in self.flows:
            self.flows[flow.name] = "RUNNING"

    def pause(self, flow: FlowSpec) -> None:
        self._known(flow)
        self.flows[flow.name] = "PAUSED"

    def resume(self, flow: FlowSpec) -> None:
        self._known(flow)
        self.flows[flow.name] = "RUNNING"

    def delete(self, flow: FlowSpec) -> None:
        if self.down:
            raise httpx.ConnectError("connection refused")
        self.calls.append("delete")
        self.flows.pop(flow.name, None)


def fence_step(ctx: Context) -> Result:
    """producers_stopped with fence=yes, as the real one orders it: recorded, then applied."""
    bindings = [["TOPIC", t, "LITERAL", "User:app", "*", "WRITE", "DENY"] for t in ctx.topics]
    if ctx.state.fence is None:
        ctx.record_side_effect("fence", bindings)
        ctx.source._reach()
        ctx.source.acls |= {tuple(b) for b in bindings}
    return Result.waiting("no write for 0s of 3s")


class ScriptedRunbook:
    def __init__(self, script: dict[Step, list] | None = None):
        self.script: dict[Step, list] = defaultdict(list, script or {})
        self.ran: list[Step] = []
        self.preview_shown = {"analytics": {"kinds": {"translated": 3}, "duplicates": 12}}

    def play(self, step: Step):
        def run(ctx: Context) -> Result | None:
            self.ran.append(step)
            if self.script[step]:
                outcome = self.script[step].pop(0)
                if isinstance(outcome, BaseException):
                    raise outcome
                return outcome(ctx) if callable(outcome) else outcome
            if step in REAL:
                return REAL[step](ctx)
            return None if step in GATES else Result.done(f"{step} ok")

        return run

    def runbook(self) -> Runbook:
        from bot.migration.steps import INFO

        return Runbook(
            actions={s: self.play(s) for s, info in INFO.items() if info.kind != Kind.GATE},
            conditions={s: self.play(s) for s in GATES},
            preview=lambda _ctx: self.preview_shown,
            unfence=lambda c, b: _remove(c, "acls", {tuple(x) for x in b}),
            drop_topics=lambda c, names: _remove(c, "topics", set(names)),
            drop_acls=lambda c, b: _remove(c, "acls", {tuple(x) for x in b}),
        )


def _remove(cluster: MemoryCluster, what: str, items: set) -> None:
    cluster._reach()
    setattr(cluster, what, getattr(cluster, what) - items)
