"""The engine: moves each migration through the runbook, one verified step at a time.

`tick` is the only mover (called by the scheduler): it runs the current step's action and
records the outcome with a conditional update. People act through `start`, `decide`
(approve/reject), `pause`, `resume`, `cancel`, `retry` and `skip`; every one is checked,
recorded in the audit trail, and refused with a reason when it is not allowed.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from bot.config import Settings
from bot.errors import UserError
from bot.kafka.acls import Acl
from bot.kafka.cluster import Cluster, error_text
from bot.kafka.fence import Fence, remove_fence
from bot.kafka.select import TopicSelection
from bot.migration import actions, approvals
from bot.migration.context import Context, Memory, Result
from bot.migration.grammar import StartRequest
from bot.migration.notify import Note, Notification, Notifier
from bot.migration.progress import eta_seconds, stalled
from bot.migration.steps import (
    GATES,
    INFO,
    ORDER,
    Kind,
    Status,
    Step,
    next_step,
    rollback_hint,
)
from bot.migration.store import ConcurrentUpdate, Store, new_id
from bot.models import Approval, Migration
from bot.replicators import FlowSpec, Replicator, from_settings

log = logging.getLogger(__name__)


class Engine:
    def __init__(self, settings: Settings, store: Store, notifier: Notifier, clock=time.time):
        self.settings = settings
        self.store = store
        self.notifier = notifier
        self.clock = clock
        self.memory: dict[str, Memory] = {}
        self._clusters: dict[str, Cluster] = {}
        self._replicators: dict[str, Replicator] = {}

    # wiring -------------------------------------------------------------------------------
    def cluster(self, name: str) -> Cluster:
        if name not in self._clusters:
            self._clusters[name] = Cluster.from_settings(self.settings, name)
        return self._clusters[name]

    def replicator(self, name: str) -> Replicator:
        if name not in self._replicators:
            self._replicators[name] = from_settings(self.settings, name)
        return self._replicators[name]

    def flow(self, m: Migration) -> FlowSpec:
        conf = self.settings.config.replicators[m.replicator]
        return FlowSpec(
            name=f"km-{m.id}",
            source=self.settings.kafka_client_config(m.source),
            target=self.settings.kafka_client_config(m.target),
            topics=[re.escape(t) for t in m.selected_topics],
            groups=[re.escape(g) for g in m.groups],
            source_alias=conf.source_alias,
            target_alias=conf.target_alias,
            replication_policy=m.replication_policy,
        )

    def approval_policy(self) -> approvals.ApprovalPolicy:
        slack = self.settings.config.slack
        cli = {f"cli:{u}" for u in self.settings.config.policy.cli_approvers}
        return approvals.ApprovalPolicy(
            approvers=frozenset(set(slack.approvers if slack else []) | cli),
            two_person_rule=slack.two_person_rule if slack else True,
            required=slack.required_approvals if slack else 1,
        )

    def _context(self, m: Migration) -> Context:
        return Context(
            m,
            self.cluster(m.source),
            self.cluster(m.target),
            self.replicator(m.replicator),
            self.flow(m),
            self.settings.config.policy,
            self.memory.setdefault(m.id, Memory()),
            self.clock(),
        )

    def _note(self, m: Migration, kind: Note, text: str, **data: Any) -> None:
        try:
            self.notifier.notify(Notification(kind, m.id, text, m.step, data))
        except Exception:  # noqa: BLE001 - a notification failure must not stop the runbook
            log.exception("notification %s for %s failed", kind, m.id)

    # people -------------------------------------------------------------------------------
    def _request(self, req: StartRequest) -> tuple[TopicSelection, list[str]]:
        self.settings.cluster(req.source)
        self.settings.cluster(req.target)
        self.replicator(req.via)
        if req.options.get("source_registry") or req.options.get("target_registry"):
            raise UserError(
                "schema registry migration is not available in this version: "
                "leave out source_registry/target_registry"
            )
        selection = TopicSelection(req.topics, req.exclude)
        names = list(self.cluster(req.source).admin.list_topics(timeout=30).topics)
        return selection, selection.resolve(names)

    def plan(self, req: StartRequest) -> dict[str, Any]:
        """What `start` would do, changing nothing: topics selected and the topic plan."""
        from bot.kafka.topics import plan_topics

        selection, topics = self._request(req)
        conf = self.settings.config.replicators[req.via]
        topic_plan = plan_topics(
            self.cluster(req.source),
            self.cluster(req.target),
            topics,
            policy=req.policy,
            source_alias=conf.source_alias,
            allow_config_changes=req.options["allow_config_changes"],
        )
        preview = selection.preview(
            list(self.cluster(req.source).admin.list_topics(timeout=30).topics)
        )
        return {
            "topics": topics,
            "excluded": preview.excluded,
            "internal": preview.internal,
            "topic_plan": [
                {
                    "source": i.source,
                    "target": i.target,
                    "partitions": i.partitions,
                    "actions": i.actions,
                    "configs": i.configs,
                    "problems": i.problems,
                    "warnings": i.warnings,
                }
                for i in topic_plan.items
            ],
            "summary": topic_plan.summary(),
        }

    def start(self, req: StartRequest, actor: str, channel: str | None = None) -> Migration:
        _selection, topics = self._request(req)
        m = Migration(
            id=new_id(req.name),
            name=req.name,
            source=req.source,
            target=req.target,
            replicator=req.via,
            topics=req.topics,
            exclude=req.exclude,
            replication_policy=req.policy,
            status=Status.ACTIVE,
            step=Step.PREFLIGHT,
            requested_by=actor,
            channel=channel,
            selected_topics=topics,
            options=req.options,
            state={},
        )
        self.store.create(m, actor)
        self._note(m, Note.CARD_CHANGED, f"{m.id} started by {actor}: {len(topics)} topic(s)")
        return m

    def decide(
        self,
        migration_id: str,
        *,
        actor: str,
        version: int,
        via: str,
        approve: bool = True,
        step: str | None = None,
        actor_groups: frozenset[str] = frozenset(),
        reason: str | None = None,
    ) -> str:
        m = self.store.get(migration_id)
        if step is None and Step(m.step) not in GATES:
            raise approvals.Refused(
                f"nothing to approve now: {m.id} is at {m.step}"
                + (f" ({m.note})" if m.note else "")
            )
        step = step or m.step
        if m.status != Status.ACTIVE:
            raise approvals.Refused(
                f"{m.id} is {m.status}"
                + (f" ({m.reason})" if m.reason else "")
                + ": nothing to approve"
            )
        gate = m.state.get("gate") or {}
        open_version = gate.get("version") if gate.get("step") == m.step else None
        already = {a.actor for a in self.store.approvals(m.id, step, version)}
        approvals.check(
            self.approval_policy(),
            actor=actor,
            actor_groups=actor_groups,
            requested_by=m.requested_by,
            step=step,
            current_step=m.step,
            waiting_for=m.note or "",
            shown_version=version,
            current_version=m.version,
            already=frozenset(already),
        )
        if open_version != m.version:
            raise approvals.Refused(f"{step} is not open for approval yet: {m.note or 'checking'}")
        decision = "approved" if approve else "rejected"
        recorded = self.store.add_approval(
            Approval(
                migration_id=m.id,
                step=step,
                decision=decision,
                actor=actor,
                via=via,
                state_version=version,
                reason=reason,
            )
        )
        if not recorded:
            raise approvals.Refused(f"{actor} already decided {step} at version {version}")
        if not approve:
            m.status, m.reason = (
                Status.PAUSED,
                f"{step} rejected by {actor}" + (f": {reason}" if reason else ""),
            )
            self._save(m, version, actor, "paused", m.reason)
        self._note(m, Note.CARD_CHANGED, f"{step} {decision} by {actor}")
        return f"{step} {decision} by {actor} (version {version})"

    def _transition(
        self,
        migration_id: str,
        actor: str,
        allowed: tuple[Status, ...],
        to: Status,
        kind: str,
        reason: str | None = None,
    ) -> Migration:
        m = self.store.get(migration_id)
        if m.status not in allowed:
            raise UserError(f"{m.id} is {m.status}: cannot {kind} it")
        version = m.version
        m.status, m.reason = to, reason
        return self._save(m, version, actor, kind, reason or f"{kind} by {actor}")

    def pause(self, migration_id: str, actor: str, reason: str | None = None) -> Migration:
        return self._transition(
            migration_id,
            actor,
            (Status.ACTIVE,),
            Status.PAUSED,
            "paused",
            reason or f"paused by {actor}",
        )

    def resume(self, migration_id: str, actor: str) -> Migration:
        m = self._transition(migration_id, actor, (Status.PAUSED,), Status.ACTIVE, "resumed")
        self.memory.pop(m.id, None)  # re-verify everything after a pause
        return m

    def retry(self, migration_id: str, actor: str) -> Migration:
        return self._transition(migration_id, actor, (Status.FAILED,), Status.ACTIVE, "retried")

    def cancel(self, migration_id: str, actor: str, reason: str | None = None) -> Migration:
        m = self.store.get(migration_id)
        if m.status not in (Status.ACTIVE, Status.PAUSED, Status.FAILED):
            raise UserError(f"{m.id} is {m.status}: cannot cancel it")
        if m.state.get("fence"):  # rollback: producers go back to the source
            remove_fence(self.cluster(m.source), Fence([Acl(*b) for b in m.state["fence"]], []))
        m = self._transition(
            migration_id,
            actor,
            (Status.ACTIVE, Status.PAUSED, Status.FAILED),
            Status.CANCELLED,
            "cancelled",
            reason or f"cancelled by {actor}",
        )
        self._note(m, Note.CARD_CHANGED, f"cancelled by {actor}. {rollback_hint(m.step)}")
        return m

    def skip(self, migration_id: str, actor: str, reason: str) -> Migration:
        m = self.store.get(migration_id)
        if not INFO[Step(m.step)].skippable:
            raise UserError(
                f"{m.step} cannot be skipped (only "
                + ", ".join(i.step for i in INFO.values() if i.skippable)
                + ")"
            )
        if not reason.strip():
            raise UserError("skip needs a reason; it goes into the audit trail")
        version = m.version
        self.store.finish_step(m.id, m.step, "skipped", actor=actor, reason=reason)
        skipped = m.step
        m.step, m.status, m.reason = next_step(Step(m.step)), Status.ACTIVE, None
        return self._save(
            m, version, actor, "skipped", f"{skipped} skipped by {actor}", reason, step=skipped
        )

    def _save(
        self,
        m: Migration,
        version: int,
        actor: str,
        kind: str,
        message: str,
        reason: str | None = None,
        step: str | None = None,
        **data: Any,
    ) -> Migration:
        m = self.store.save(
            m,
            version,
            actor=actor,
            kind=kind,
            message=message,
            reason=reason,
            data=data,
            step=step,
        )
        self._note(m, Note.CARD_CHANGED, message)
        return m

    # the mover ----------------------------------------------------------------------------
    def tick(self, migration_id: str) -> Migration:
        m = self.store.get(migration_id)
        for _ in range(len(ORDER)):
            if m.status != Status.ACTIVE:
                return m
            ctx = self._context(m)
            step = Step(m.step)
            self.store.run_step(m.id, step, actor="bot")
            self._reverify(ctx)
            try:
                result = (
                    self._gate(ctx) if INFO[step].kind == Kind.GATE else actions.ACTIONS[step](ctx)
                )
            except UserError as exc:
                result = Result.failed(str(exc))
            except Exception as exc:  # noqa: BLE001 - reported as "failed: <reason>"
                log.exception("%s: step %s failed", m.id, step)
                result = Result.failed(error_text(exc)[:300])
            try:
                if not self._record(m, step, result):
                    return m
            except ConcurrentUpdate:
                log.info("%s changed meanwhile; next tick re-reads it", m.id)
                return self.store.get(m.id)
        return m

    def _reverify(self, ctx: Context) -> None:
        """After a restart (or resume), say once that attestations are checked again live."""
        step = Step(ctx.migration.step)
        if ctx.memory.reverified or ORDER.index(step) <= ORDER.index(Step.PRODUCERS_STOPPED):
            ctx.memory.reverified = True
            return
        ctx.memory.reverified = True
        self.store.event(
            ctx.migration.id,
            actor="bot",
            kind="reverify",
            step=step,
            message="attestations (producers stopped, drain) are re-verified live "
            "by this process, not taken from storage",
        )

    def _record(self, m: Migration, step: Step, result: Result) -> bool:
        """Store a step's outcome; True when the runbook moved on and the next step may run."""
        version = m.version
        if result.lag is not None:
            self.store.add_lag(m.id, result.lag, None, None)
        if result.outcome == "waiting":
            if result.message != m.note:
                self.store.set_note(m.id, result.message)
                m.note = result.message
                self._note(m, Note.CARD_CHANGED, result.message)
            if step == Step.CATCH_UP:
                self._watch_stall(m, result)
            return False
        if result.outcome == "failed":
            self.store.finish_step(m.id, step, "failed", actor="bot", reason=result.message)
            m.status, m.reason = Status.FAILED, result.message
            self._save(m, version, "bot", "failed", f"{step} failed", result.message)
            self._note(m, Note.FAILURE, f"{step} failed: {result.message}. {rollback_hint(step)}")
            return False
        if result.outcome == "regress":
            self.store.finish_step(m.id, step, "regressed", actor="bot", reason=result.message)
            closed = INFO[step].kind == Kind.GATE or m.state.get("gate")
            m.state.pop("gate", None)
            m.step = Step(result.to_step)
            self._save(m, version, "bot", "regressed", f"back to {m.step}", result.message)
            if closed:
                self._note(
                    m,
                    Note.GATE_CLOSED,
                    f"{result.message}: back to {m.step}; any approval must be given again",
                )
            return True
        # done
        self.store.finish_step(
            m.id,
            step,
            "done",
            actor=self._actor_of(m, step),
            reason=None,
            detail={"message": result.message, **result.detail},
        )
        m.state.pop("gate", None)
        m.note = None
        following = next_step(step)
        if following is None:
            m.status = Status.COMPLETE
        else:
            m.step = following
        self._save(
            m, version, "bot", "step_done", f"{step}: {result.message}", step=step, **result.detail
        )
        self.store.set_note(m.id, "")
        self._note(m, Note.STEP_DONE, f"{step} done: {result.message}")
        if step == Step.DRAIN:
            self._note(
                m,
                Note.LAG_ZERO,
                "lag reached zero: consumers read everything and MirrorMaker 2 copied every record",
            )
        if step == Step.CATCH_UP:
            self._note(m, Note.LAG_ZERO, f"replication caught up: {result.message}")
        if m.status == Status.COMPLETE:
            self._note(m, Note.COMPLETED, f"{m.id} complete")
        return True

    def _actor_of(self, m: Migration, step: Step) -> str:
        if INFO[step].kind != Kind.GATE:
            return "bot"
        gate = m.state.get("gate") or {}
        names = [
            a.actor
            for a in self.store.approvals(m.id, step, gate.get("version"))
            if a.decision == "approved"
        ]
        return ", ".join(names) or "bot"

    def _watch_stall(self, m: Migration, result: Result) -> None:
        memory = self.memory.setdefault(m.id, Memory())
        memory.copied = (memory.copied + [result.detail.get("copied", 0)])[-100:]
        polls = self.settings.config.policy.stall_polls
        if stalled(memory.copied, result.lag or 0, polls):
            if not memory.stall_reported:
                memory.stall_reported = True
                self._note(
                    m,
                    Note.STALL,
                    f"MirrorMaker 2 copied nothing for {polls} polls while "
                    f"{result.lag:,} records wait: check the replicator",
                )
        else:
            memory.stall_reported = False

    def _gate(self, ctx: Context) -> Result:
        m, step = ctx.migration, Step(ctx.migration.step)
        broken = actions.GATE_CONDITIONS[step](ctx)
        if broken is not None:
            return broken
        gate = m.state.get("gate")
        expiry = self.settings.config.policy.gate_expiry_seconds
        if gate and gate.get("step") == step and ctx.now - gate["opened_at"] > expiry:
            self.store.event(
                m.id,
                actor="bot",
                kind="gate_expired",
                step=step,
                message=f"{step} approval request expired after {expiry}s",
            )
            gate = None
        if not gate or gate.get("step") != step:
            return self._open_gate(ctx)
        names = {
            a.actor
            for a in self.store.approvals(m.id, step, gate["version"])
            if a.decision == "approved"
        }
        policy = self.approval_policy()
        if approvals.gate_passed(policy, names):
            return Result.done(f"approved by {', '.join(sorted(names))}")
        return Result.waiting(
            f"waiting for approval ({len(names)} of {policy.required}) at version {gate['version']}"
        )

    def _open_gate(self, ctx: Context) -> Result:
        m, step = ctx.migration, Step(ctx.migration.step)
        version = m.version
        extra = {}
        if step == Step.REPOINT_CLIENTS:
            extra["preview"] = actions.repoint_preview(ctx)
        m.state["gate"] = {"step": step, "opened_at": ctx.now, "version": version + 1, **extra}
        m.note = f"waiting for approval at version {version + 1}"
        self.store.set_note(m.id, m.note)
        self._save(m, version, "bot", "gate_opened", f"{step} open for approval")
        approvers = " ".join(sorted(self.approval_policy().approvers))
        self._note(
            m,
            Note.GATE_OPENED,
            f"{INFO[step].title}: approvers {approvers}, please "
            f"decide (version {m.version}). {rollback_hint(step)}",
            version=m.version,
            **extra,
        )
        return Result.waiting(m.note)

    # reading ------------------------------------------------------------------------------
    def status(self, migration_id: str) -> dict[str, Any]:
        m = self.store.get(migration_id)
        runs = {}
        for run in self.store.step_runs(m.id):
            runs[run.step] = run
        samples = self.store.lag_samples(m.id, 100)
        points = [(s.at.timestamp(), s.replication_lag or 0) for s in samples]
        steps = []
        for info in INFO.values():
            run = runs.get(info.step)
            seconds = None
            if run and run.started_at and run.finished_at:
                seconds = (run.finished_at - run.started_at).total_seconds()
            steps.append(
                {
                    "step": str(info.step),
                    "kind": str(info.kind),
                    "title": info.title,
                    "state": run.state if run else "pending",
                    "actor": run.actor if run else None,
                    "seconds": seconds,
                    "reason": run.reason if run else None,
                }
            )
        return {
            "id": m.id,
            "name": m.name,
            "status": str(m.status),
            "step": str(m.step),
            "version": m.version,
            "note": m.note,
            "reason": m.reason,
            "source": m.source,
            "target": m.target,
            "replicator": m.replicator,
            "policy": m.replication_policy,
            "topics": m.selected_topics,
            "groups": m.groups,
            "requested_by": m.requested_by,
            "steps": steps,
            "replication_lag": points[-1][1] if points else None,
            "eta_seconds": eta_seconds(points),
            "gate": m.state.get("gate"),
            "rollback": rollback_hint(m.step),
        }

    def list(self, open_only: bool = False) -> list[dict[str, Any]]:
        return [
            {
                "id": m.id,
                "status": str(m.status),
                "step": str(m.step),
                "version": m.version,
                "topics": len(m.selected_topics),
                "requested_by": m.requested_by,
            }
            for m in self.store.list(open_only=open_only)
        ]

    def report(self, migration_id: str) -> dict[str, Any]:
        status = self.status(migration_id)
        m = self.store.get(migration_id)
        status["approvals"] = [
            {
                "step": a.step,
                "decision": a.decision,
                "actor": a.actor,
                "via": a.via,
                "version": a.state_version,
                "at": a.created_at.isoformat(),
            }
            for a in self.store.all_approvals(m.id)
        ]
        status["timeline"] = [
            {
                "at": e.at.isoformat(),
                "actor": e.actor,
                "kind": e.kind,
                "step": e.step,
                "message": e.message,
                "reason": e.reason,
            }
            for e in self.store.events(m.id)
        ]
        status["handover"] = m.state.get("handover")
        status["verify"] = m.state.get("verify")
        status["lag_samples"] = [
            (s.at.isoformat(), s.replication_lag) for s in self.store.lag_samples(m.id, 1000)
        ]
        return status
