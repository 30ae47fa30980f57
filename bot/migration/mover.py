"""The mover: moves each migration through the runbook, one verified step at a time.

`tick` is called by the scheduler (bot/jobs/runner.py): it runs the current step's action (or
the gate's condition and approvals) and records the outcome with a conditional update. It is
the only code that moves a migration forward; people act through verbs.py.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot import logs, metrics
from bot.errors import UserError
from bot.migration import compensation, lifecycle
from bot.migration.approvals import ApprovalRule
from bot.migration.clients import Clients
from bot.migration.context import Context, Observations, Outcome, Result
from bot.migration.journal import Journal
from bot.migration.lifecycle import Verb
from bot.migration.notify import NotificationKind as Kinds
from bot.migration.pace import stalled
from bot.migration.ports import Runbook
from bot.migration.state import GateRound
from bot.migration.steps import (
    INFO,
    ORDER,
    REQUESTS,
    Kind,
    Status,
    Step,
    next_step,
    rollback_hint,
)
from bot.migration.store import ConcurrentUpdate
from bot.models import EventKind, Migration
from bot.reasons import reason, transient

log = logging.getLogger(__name__)
FINISH = {Step.COMPLETE: Verb.COMPLETE, Step.ROLLED_BACK: Verb.FINISH_ROLLBACK}


def _hint(m: Migration, step: Step) -> str:
    return rollback_hint(step, reverse=bool(m.options.get("reverse_via")))


class Mover:
    def __init__(
        self,
        journal: Journal,
        clients: Clients,
        runbook: Runbook,
        rule: ApprovalRule,
        timing,  # config.Timing
        clock: Callable[[], float],
        observed: dict[str, Observations],
    ):
        """`observed`: what this process observed per migration (kept across ticks)."""
        self.journal, self.store = journal, journal.store
        self.clients, self.runbook, self.rule = clients, runbook, rule
        self.timing, self.clock, self.observed = timing, clock, observed

    def context(self, m: Migration) -> Context:
        return Context(
            m,
            self.clients.cluster(m.source),
            self.clients.cluster(m.target),
            self.clients.replicator(m.replicator),
            self.clients.flow(m),
            self.timing,
            self.observed.setdefault(m.id, Observations()),
            self.clock(),
            lambda key, value: self.store.record_state(m.id, key, value),
            self.clients.registries(m.options),
            self.clients.connect(m.options),
            self.clients.back(m),
        )

    def tick(self, migration_id: str) -> Migration:
        m = self.store.get(migration_id)
        for _ in range(len(ORDER)):
            if m.status != Status.ACTIVE:
                return m
            ctx = self.context(m)
            step = m.step
            logs.set_step(step)
            self.store.run_step(m.id, step, actor="bot")
            self._reverify(ctx)
            try:
                result = (
                    self._gate(ctx)
                    if INFO[step].kind == Kind.GATE
                    else self.runbook.actions[step](ctx)
                )
                ctx.observed.degraded_since = None
            except Exception as exc:  # noqa: BLE001 - reported as a reason, or held as degraded
                result = self._fault(ctx, step, exc)
            if self._cancelled_meanwhile(m.id, step):
                return self.store.get(m.id)
            try:
                if not self._record(m, step, result):
                    return m
            except ConcurrentUpdate:
                log.info("%s changed meanwhile; next tick re-reads it", m.id)
                return self.store.get(m.id)
        return m

    def _cancelled_meanwhile(self, migration_id: str, step: Step) -> bool:
        """A cancel while the step ran: what the step applied after the cancel's undo (a
        fence, connectors created again) is undone now, by the process that applied it."""
        latest = self.store.get(migration_id)
        if latest.status != Status.CANCELLED:
            return False
        try:
            undone = compensation.undo(
                self.clients, self.runbook, latest, latest.state.cancel_cleanup
            )
        except UserError as exc:
            log.error("%s: cancelled while %s ran; undoing again failed: %s", latest.id, step, exc)
            undone = [f"failed: {exc}"]
        self.store.event(
            latest.id,
            actor="bot",
            kind=EventKind.UNDO,
            step=step,
            message=f"cancelled while {step} ran: undone again ({', '.join(undone) or 'nothing'})",
        )
        return True

    def _fault(self, ctx: Context, step: Step, exc: Exception) -> Result:
        """A definite error fails the step; a transient one (a cluster or Connect away, a
        timeout, a rebalance) holds it as "degraded" and is retried at the next poll, until
        `fault_patience_seconds` have passed."""
        metrics.count_failure(exc)  # a Kafka, Connect or registry call failed (by its kind)
        text = reason(exc)
        if not transient(exc):
            if not isinstance(exc, UserError):
                log.exception("%s: step %s failed", ctx.migration.id, step)
            return Result.failed(text)
        observed = ctx.observed
        # fresh clients next time: a cached client may hold metadata the fault made stale (after
        # a broker is back, its cached leader epochs are refused as FENCED_LEADER_EPOCH)
        for name in (ctx.migration.source, ctx.migration.target):
            self.clients.forget_cluster(name)
        if observed.degraded_since is None:
            observed.degraded_since = ctx.now
        held = ctx.now - observed.degraded_since
        patience = self.timing.fault_patience_seconds
        if held >= patience:
            return Result.failed(f"gave up after {held:.0f}s of: {text}")
        log.warning("%s: %s degraded for %.0fs: %s", ctx.migration.id, step, held, text)
        return Result.waiting(f"degraded for {held:.0f}s (retrying): {text}")

    def _reverify(self, ctx: Context) -> None:
        """After a restart (or resume), say once that attestations are checked again live."""
        step = ctx.migration.step
        if ctx.observed.reverified or ORDER.index(step) <= ORDER.index(Step.PRODUCERS_STOPPED):
            ctx.observed.reverified = True
            return
        ctx.observed.reverified = True
        self.store.event(
            ctx.migration.id,
            actor="bot",
            kind=EventKind.REVERIFY,
            step=step,
            message="attestations (producers stopped, drain) are re-verified live "
            "by this process, not taken from storage",
        )

    def _record(self, m: Migration, step: Step, result: Result) -> bool:
        """Store a step's outcome; True when the runbook moved on and the next step may run."""
        version = m.version
        if result.lag is not None or result.consumer_lag is not None:
            self.store.add_lag(m.id, result.lag, result.consumer_lag, None)
        if result.outcome == Outcome.WAITING:
            alert = result.detail.get("alert")
            observed = self.observed.setdefault(m.id, Observations())
            if alert and alert != observed.alerted:
                self.journal.announce(m, Kinds.ALERT, alert)
            observed.alerted = alert
            if result.message != m.waiting_for:
                self.store.set_waiting_for(m.id, result.message)
                m.waiting_for = result.message
                self.journal.announce(m, Kinds.CARD_CHANGED, result.message)
            if step == Step.CATCH_UP:
                self._watch_stall(m, result)
            return False
        if result.outcome == Outcome.FAILED:
            log.error("%s: step %s failed: %s", m.id, step, result.message)
            self.store.finish_step(m.id, step, "failed", actor="bot", reason=result.message)
            lifecycle.move(m, Verb.FAIL, result.message)
            self.journal.save(m, version, "bot", EventKind.FAILED, f"{step} failed", result.message)
            self.journal.announce(
                m, Kinds.FAILURE, f"{step} failed: {result.message}. {_hint(m, step)}"
            )
            return False
        if result.outcome == Outcome.REGRESS:
            self.store.finish_step(m.id, step, "regressed", actor="bot", reason=result.message)
            closed = INFO[step].kind == Kind.GATE or m.state.gate
            lifecycle.move(m, Verb.REGRESS)
            m.state.gate = None
            m.step = Step(result.to_step)
            self.journal.save(
                m, version, "bot", EventKind.REGRESSED, f"back to {m.step}", result.message
            )
            if closed:
                self.journal.announce(
                    m,
                    Kinds.GATE_CLOSED,
                    f"{result.message}: back to {m.step}; any approval must be given again",
                )
            return True
        # done
        actor = self._actor_of(m, step)
        self.store.finish_step(
            m.id,
            step,
            "done",
            actor=actor,
            reason=None,
            detail={"message": result.message, **result.detail},
        )
        m.state.gate = None
        m.waiting_for = None
        following = next_step(step)
        lifecycle.move(m, Verb.ADVANCE if following else FINISH[step])
        m.step = following or m.step
        if step in REQUESTS:
            m.state.requested = None
        self.journal.save(
            m,
            version,
            "bot",
            EventKind.STEP_DONE,
            f"{step}: {result.message}",
            step=step,
            **result.detail,
        )
        self.store.set_waiting_for(m.id, "")
        self.journal.announce(m, Kinds.STEP_DONE, f"{step} done: {result.message}", actor=actor)
        if step == Step.DRAIN:
            self.journal.announce(m, Kinds.LAG_ZERO, result.message)
        if step == Step.CATCH_UP:
            self.journal.announce(m, Kinds.LAG_ZERO, f"replication caught up: {result.message}")
        if m.status in (Status.COMPLETE, Status.ROLLED_BACK):
            self.journal.announce(m, Kinds.COMPLETED, f"{m.id} {m.status}")
        return True

    def _actor_of(self, m: Migration, step: Step) -> str:
        gate = m.state.round_at(step)
        if INFO[step].kind != Kind.GATE or gate is None:
            return "bot"
        return ", ".join(gate.whose(self.store.approvals(m.id, step, gate.version))) or "bot"

    def _watch_stall(self, m: Migration, result: Result) -> None:
        observed = self.observed.setdefault(m.id, Observations())
        observed.copied = (observed.copied + [result.detail.get("copied", 0)])[-100:]
        polls = self.timing.stall_polls
        if stalled(observed.copied, result.lag or 0, polls):
            if not observed.stall_reported:
                observed.stall_reported = True
                self.journal.announce(
                    m,
                    Kinds.STALL,
                    f"MirrorMaker 2 copied nothing for {polls} polls while "
                    f"{result.lag:,} records wait: check the replicator",
                )
        else:
            observed.stall_reported = False

    def _gate(self, ctx: Context) -> Result:
        m, step = ctx.migration, ctx.migration.step
        ctx.observed.figures = {}
        broken = self.runbook.conditions[step](ctx)
        if broken is not None:
            return broken
        if "replication_lag" in ctx.observed.figures:  # the live figure beside the decided one
            self.store.add_lag(m.id, ctx.observed.figures["replication_lag"], None, None)
        gate = m.state.round_at(step)
        expiry = self.timing.gate_expiry_seconds
        if gate and gate.expired(ctx.now, expiry):
            self.store.event(
                m.id,
                actor="bot",
                kind=EventKind.GATE_EXPIRED,
                step=step,
                message=f"{step} approval request expired after {expiry}s",
            )
            gate = None
        if gate is None:
            return self._open_gate(ctx)
        decided = self.store.approvals(m.id, step, gate.version)
        names = gate.whose(decided)
        if gate.passed(decided, self.rule.required):
            return Result.done(f"approved by {', '.join(sorted(names))}")
        return Result.waiting(
            f"waiting for approval ({len(names)} of {self.rule.required}) at version {gate.version}"
        )

    def _open_gate(self, ctx: Context) -> Result:
        m, step = ctx.migration, ctx.migration.step
        version = m.version
        extra = {}
        if step in (Step.REPOINT_CLIENTS, Step.REPOINT_TO_SOURCE):
            extra["preview"] = self.runbook.preview(ctx)
        lifecycle.move(m, Verb.OPEN_GATE)
        m.state.gate = GateRound(
            step=step,
            opened_at=ctx.now,
            version=version + 1,
            decided={**ctx.observed.figures, "at": ctx.observed.figures.get("at", ctx.now)},
            **extra,
        )
        m.waiting_for = f"waiting for approval at version {version + 1}"
        self.store.set_waiting_for(m.id, m.waiting_for)
        self.journal.save(m, version, "bot", EventKind.GATE_OPENED, f"{step} open for approval")
        self.journal.announce(
            m,
            Kinds.GATE_OPENED,
            _hint(m, step),  # the request itself (title, version, approvers) is rendered
            version=m.version,
            **extra,
        )
        return Result.waiting(m.waiting_for)
