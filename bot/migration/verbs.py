"""What people do to a migration (start, approve or reject, pause, resume, retry, cancel,
skip): each checked against the lifecycle (lifecycle.py), recorded in the audit trail, or
refused with the reason, and the refusal recorded too."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from bot.config import Settings
from bot.errors import ConfigError, UserError
from bot.kafka.acls import parse_principal_map
from bot.kafka.naming import TopicNaming
from bot.kafka.select import TopicSelection, group_patterns
from bot.migration import approvals, compensation, lifecycle, reverse
from bot.migration.approvals import ApprovalRule, Decision
from bot.migration.clients import Clients
from bot.migration.context import Observations
from bot.migration.grammar import StartRequest
from bot.migration.journal import Journal
from bot.migration.lifecycle import Refused, Verb
from bot.migration.notify import NotificationKind
from bot.migration.ports import Runbook
from bot.migration.state import MigrationState
from bot.migration.steps import (
    GATES,
    INFO,
    ORDER,
    REQUESTS,
    Step,
    next_step,
    rollback_hint,
)
from bot.migration.store import ConcurrentUpdate, new_id
from bot.migration.view import Plan, TopicLine
from bot.models import Approval, EventKind, Migration
from bot.reasons import reason
from bot.schemas.client import RegistryError

CARD_CHANGED = NotificationKind.CARD_CHANGED


class Verbs:
    """The verbs of people, on the migration's clients, the store and the notifier (the mover,
    which moves the runbook, is mover.py)."""

    def __init__(
        self,
        settings: Settings,
        journal: Journal,
        clients: Clients,
        runbook: Runbook,
        rule: ApprovalRule,
        observed: dict[str, Observations],
    ):
        """`observed`: what the mover observed per migration (a resume forgets it)."""
        self.settings = settings
        self.journal, self.store = journal, journal.store
        self.clients, self.runbook, self.rule = clients, runbook, rule
        self.observed = observed

    def _request(self, req: StartRequest) -> tuple[TopicSelection, list[str]]:
        """Check, before anything starts, what a step would refuse later: names in the config,
        patterns in Java's dialect, the principal map, both clusters and the replicator
        reachable. Refusals are UserErrors that say what to fix."""
        self.settings.cluster(req.source)
        self.settings.cluster(req.target)
        replicator = self.clients.replicator(req.via)
        self._refuse_shared_flow(req.via)
        self._check_registries(req.options)
        self._check_connect(req.options)
        reverse.check_request(self.settings, self.clients, req.options, req.source)
        selection = TopicSelection(req.topics, req.exclude)
        group_patterns(req.options.get("groups_exclude") or "")
        parse_principal_map(req.options.get("principals") or "")
        names = self._reach(req.source, "source")
        self._reach(req.target, "target")
        try:
            replicator.check()
        except Exception as exc:  # noqa: BLE001 - said to the user as a reason
            raise UserError(f"cannot reach the replicator {req.via}: {reason(exc)}") from None
        return selection, selection.resolve(names)

    def _refuse_shared_flow(self, via: str) -> None:
        """Aiven runs one replication flow per alias pair on an MM2 service: a second open
        migration there would rewrite the first one's flow."""

        def flow_key(name: str) -> tuple | None:
            conf = self.settings.config.replicators.get(name)
            if conf is None or conf.kind != "aiven":
                return None
            return (
                str(conf.api_url),
                conf.project,
                conf.service,
                conf.source_alias,
                conf.target_alias,
            )

        key = flow_key(via)
        other = key and next(
            (m for m in self.store.list(open_only=True) if flow_key(m.replicator) == key), None
        )
        if other:
            raise UserError(
                f"{other.id} ({other.status}) holds the flow {key[3]}->{key[4]} on MM2 service "
                f"{key[1]}/{key[2]} (replicator {via}), and Aiven runs one flow per alias pair "
                "per service: wait until it is complete or cancelled, or use a replicator with "
                "other aliases or another MM2 service"
            )

    def _check_registries(self, options: dict[str, Any]) -> None:
        named = [options.get("source_registry"), options.get("target_registry")]
        if any(named) and not all(named):
            raise UserError("name both source_registry and target_registry, or neither")
        if not any(named):
            return
        if named[0] == named[1]:
            raise UserError("source_registry and target_registry name the same registry")
        for role, name in zip(("source", "target"), named, strict=True):
            try:
                self.clients.registry(name).check()
            except RegistryError as exc:
                self.clients.forget_registry(name)
                raise UserError(f"the {role} schema registry {name}: {exc}") from None

    def _check_connect(self, options: dict[str, Any]) -> None:
        """The Connect clusters named (connect_from, connect_to) are configured and answer."""
        for key in ("connect_from", "connect_to"):
            name = options.get(key)
            if not name:
                continue
            try:
                self.settings.connect_cluster(name)
            except ConfigError as exc:  # named at its field in the form
                raise ConfigError(exc.message, field=key) from None
            try:
                self.clients.connect_cluster(name).info()
            except Exception as exc:  # noqa: BLE001 - said to the user as a reason
                self.clients.forget_connect(name)
                if getattr(exc, "status", None) in (401, 403):
                    where = f"{key}={name}"  # the refusal names the cluster and the user
                else:
                    where = f"{key}: cannot reach the Kafka Connect cluster {name}"
                raise UserError(f"{where}: {reason(exc)}", field=key) from None

    def _reach(self, name: str, role: str) -> list[str]:
        """The cluster's topic names; an unreachable cluster's client is dropped, not kept
        retrying (and logging) in the background."""
        cluster = self.clients.cluster(name)
        why = cluster.unreachable()
        try:
            if why is None:
                return list(cluster.admin.list_topics(timeout=15).topics)
        except Exception as exc:  # noqa: BLE001 - said to the user as a reason
            why = reason(exc)
        self.clients.forget_cluster(name)
        raise UserError(f"the {role} cluster {name}: {why}")

    def plan(self, req: StartRequest) -> Plan:
        """What `start` would do, changing nothing: topics selected and the topic plan."""
        from bot.kafka.topics import plan_topics
        from bot.schemas.migrate import plan_schemas

        selection, topics = self._request(req)
        conf = self.settings.config.replicators[req.via]
        topic_plan = plan_topics(
            self.clients.cluster(req.source),
            self.clients.cluster(req.target),
            topics,
            naming=TopicNaming(req.replication_policy, conf.source_alias),
            allow_config_changes=req.options["allow_config_changes"],
        )
        preview = selection.preview(self._reach(req.source, "source"))
        schema_plan = None
        if registries := self.clients.registries(req.options):
            source = registries[0]
            schema_plan = plan_schemas(
                *registries, topics, strategy=source.subject_strategy, extra=source.extra_subjects
            )
        moving = None
        if connect := self.clients.connect(req.options):
            from bot.migration.connectors import plan_moves

            moving = plan_moves(
                connect,
                self.clients.cluster(req.source),
                self.clients.cluster(req.target),
                topics,
                self._reach(req.source, "source"),
                TopicNaming(req.replication_policy, conf.source_alias),
                req.options,
                self.clients.registries(req.options),
            )
        reverse_problems, reverse_lines = [], []
        if back := self.clients.back_of("plan", req.options, req.source, req.target, topics):
            reverse_problems, reverse_lines = reverse.findings(
                back,
                self.clients.cluster(req.source),
                topics,
                reverse.principal(self.settings, req.options, req.source),
            )
        partitions = sum(i.partitions for i in topic_plan.items)
        return Plan(
            topics=tuple(topics),
            replication_lines=self._replication_lines(req.via, partitions),
            reverse_lines=tuple(reverse_lines),
            reverse_problems=tuple(reverse_problems),
            excluded=tuple(preview.excluded),
            internal=tuple(preview.internal),
            topic_lines=tuple(
                TopicLine(
                    source=i.source,
                    target=i.target,
                    partitions=i.partitions,
                    actions=tuple(i.actions),
                    configs=dict(i.configs),
                    problems=tuple(i.problems),
                    warnings=tuple(i.warnings),
                )
                for i in topic_plan.items
            ),
            summary=topic_plan.summary(),
            schema_summary=schema_plan.summary() if schema_plan else None,
            schema_lines=tuple(schema_plan.lines()) if schema_plan else (),
            connector_lines=tuple(moving.lines()) if moving else (),
            connector_configs={m.name: m.config for m in moving.moves} if moving else None,
            connector_problems=tuple(moving.problems) if moving else (),
            connector_warnings=tuple(moving.warnings) if moving else (),
        )

    def _replication_lines(self, via: str, partitions: int) -> tuple[str, ...]:
        """What the replication will run: the MirrorSourceConnector's tasks.max and why (as
        start_replication decides it, asked now), or why the replicator could not say."""
        try:
            sizing = self.clients.replicator(via).size_tasks(partitions)
        except Exception as exc:  # noqa: BLE001 - said in the plan as a reason
            return (f"tasks.max: not decided ({reason(exc)}); start_replication asks again",)
        return (f"MirrorSourceConnector {sizing}",) if sizing else ()

    def start(
        self,
        req: StartRequest,
        actor: str,
        channel: str | None = None,
        origin: dict[str, Any] | None = None,
        hold: str | None = None,
    ) -> Migration:
        """Create the migration (active, or paused with `hold` as the reason until the caller
        resumes it, e.g. once its Slack card is posted)."""
        _selection, topics = self._request(req)
        m = Migration(
            id=new_id(req.name),
            name=req.name,
            source=req.source,
            target=req.target,
            replicator=req.via,
            topics=req.topics,
            exclude=req.exclude,
            replication_policy=req.replication_policy,
            status=lifecycle.initial(hold),
            reason=hold,
            step=Step.PREFLIGHT,
            requested_by=actor,
            channel=channel,
            selected_topics=topics,
            options=self._with_reverse(req.options, req.source),
            state=MigrationState(),
        )
        self.store.create(m, actor, origin)
        self.journal.announce(m, CARD_CHANGED, f"{m.id} started by {actor}: {len(topics)} topic(s)")
        return m

    def _with_reverse(self, options: dict[str, Any], source: str) -> dict[str, Any]:
        """The reverse flow's principal, when known, is let through the source's fence."""
        writer = reverse.principal(self.settings, options, source)
        if writer is None:
            return options
        allow = list(options.get("fence_allow") or [])
        return {
            **options,
            "reverse_principal": writer,
            "fence_allow": allow + ([writer] if writer not in allow else []),
        }

    @contextmanager
    def _audited(
        self,
        m: Migration,
        actor: str,
        verb: Verb,
        message: str,
        step: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> Iterator[None]:
        """A refusal inside is recorded in the audit trail (who, which verb, why), then raised."""
        try:
            yield
        except Refused as exc:
            self.store.event(
                m.id,
                actor=actor,
                kind=EventKind.REFUSED,
                step=(step or m.step)[:40],
                message=message,
                reason=str(exc),
                data={"verb": str(verb), **(data or {})},
            )
            raise

    def _refusing(
        self, m: Migration, actor: str, verb: Verb, origin: dict[str, Any] | None
    ) -> AbstractContextManager[None]:
        return self._audited(m, actor, verb, f"{actor} may not {verb} {m.id}", data=origin)

    def decide(
        self,
        migration_id: str,
        *,
        actor: str,
        version: int,
        interface: str,
        approve: bool = True,
        step: str | None = None,
        actor_groups: frozenset[str] = frozenset(),
        reason: str | None = None,
        origin: dict[str, Any] | None = None,
    ) -> Decision:
        """Record an approval or a rejection; a refused one is recorded too, with its reason."""
        m = self.store.get(migration_id)
        verb = Verb.APPROVE if approve else Verb.REJECT
        gate = step or m.step
        with self._audited(
            m,
            actor,
            verb,
            f"{actor} may not {verb} {gate} at version {version}",
            step=gate,
            data={"interface": interface, **(origin or {})},
        ):
            return self._decide(
                m, actor, version, interface, verb, step, actor_groups, reason, origin or {}
            )

    def _decide(
        self,
        m: Migration,
        actor: str,
        version: int,
        interface: str,
        verb: Verb,
        step: str | None,
        actor_groups: frozenset[str],
        reason: str | None,
        origin: dict[str, Any],
    ) -> Decision:
        if step is None and m.step not in GATES:
            raise Refused(
                f"nothing to approve now: {m.id} is at {m.step}"
                + (f" ({m.waiting_for})" if m.waiting_for else "")
            )
        step = step or m.step
        lifecycle.check(m, verb)
        approve = verb == Verb.APPROVE
        approvals.check(
            self.rule,
            actor=actor,
            actor_groups=actor_groups,
            requested_by=m.requested_by,
            step=step,
            current_step=m.step,
            waiting_for=m.waiting_for or "",
            version=version,
            current_version=m.version,
            already=frozenset(a.actor for a in self.store.approvals(m.id, step, version)),
            approve=approve,
        )
        gate = m.state.round_at(m.step, m.version)
        if gate is None:
            raise Refused(f"{step} is not open for approval yet: {m.waiting_for or 'checking'}")
        asked = m.state.requested or {}
        if (
            approve
            and asked.get("step") == step
            and asked.get("by") == actor
            and self.rule.two_person_rule
        ):
            raise Refused(f"{actor} asked for the {step} and cannot approve it (two-person rule)")
        decision = "approved" if approve else "rejected"
        recorded = self.store.add_approval(
            Approval(
                migration_id=m.id,
                step=step,
                decision=decision,
                actor=actor,
                interface=interface,
                version=version,
                reason=reason,
            ),
            origin,
        )
        if not recorded:  # a second click that raced the first: said as the first refusal says
            earlier = [a for a in self.store.approvals(m.id, step, version) if a.actor == actor]
            said = earlier[0].decision if earlier else "decided"
            raise Refused(f"{actor} already {said} {step} at this version")
        if not approve and step in REQUESTS:  # a declined request: the soak goes on
            why = f"{step} declined by {actor}" + (f": {reason}" if reason else "")
            lifecycle.move(m, Verb.DECLINE)
            m.step, m.state.gate, m.state.requested, m.waiting_for = Step.SOAK, None, None, None
            self.store.finish_step(m.id, step, "declined", actor=actor, reason=why)
            self.journal.save(m, version, actor, EventKind.DECLINED, why, **origin)
        elif not approve:
            lifecycle.move(
                m, verb, f"{step} rejected by {actor}" + (f": {reason}" if reason else "")
            )
            self.journal.save(m, version, actor, EventKind.PAUSED, m.reason, **origin)
        self.journal.announce(m, CARD_CHANGED, f"{step} {decision} by {actor}")
        whose = gate.whose(self.store.approvals(m.id, step, version))
        return Decision(
            migration_id=m.id,
            step=Step(step),
            version=version,
            actor=actor,
            approved=approve,
            approvals=whose,
            required=self.rule.required,
            passed=approve and len(whose) >= self.rule.required,
            text=f"{step} {decision} by {actor} (version {version})",
        )

    def _transition(
        self,
        migration_id: str,
        actor: str,
        verb: Verb,
        kind: EventKind,
        reason: str | None = None,
        origin: dict[str, Any] | None = None,
    ) -> Migration:
        m = self.store.get(migration_id)
        with self._refusing(m, actor, verb, origin):
            lifecycle.check(m, verb)
        version = m.version
        lifecycle.move(m, verb, reason)
        return self.journal.save(
            m, version, actor, kind, reason or f"{kind} by {actor}", **(origin or {})
        )

    def pause(
        self,
        migration_id: str,
        actor: str,
        reason: str | None = None,
        origin: dict[str, Any] | None = None,
    ) -> Migration:
        why = reason or f"paused by {actor}"
        return self._transition(migration_id, actor, Verb.PAUSE, EventKind.PAUSED, why, origin)

    def resume(
        self, migration_id: str, actor: str, origin: dict[str, Any] | None = None
    ) -> Migration:
        m = self._transition(migration_id, actor, Verb.RESUME, EventKind.RESUMED, origin=origin)
        self.observed.pop(m.id, None)  # re-verify everything after a pause
        return m

    def retry(
        self, migration_id: str, actor: str, origin: dict[str, Any] | None = None
    ) -> Migration:
        m = self.store.get(migration_id)
        with self._refusing(m, actor, Verb.RETRY, origin):
            lifecycle.check(m, Verb.RETRY)
        back = self.clients.back(m)
        if m.state.reverse and back is not None:
            if not m.state.reverse_deleted:  # the forward flow is gone: never created again
                try:  # the reverse flow (started at its offsets) restarts where it stands
                    back[0].restart(back[1])
                except Exception as exc:  # noqa: BLE001 - said to the user as a reason
                    raise UserError(f"cannot restart the reverse flow: {reason(exc)}") from None
        elif m.state.replication:
            flow, replicator = self.clients.flow(m), self.clients.replicator(m.replicator)
            try:  # a failed connector or task is restarted, a deleted one created again
                replicator.ensure(flow)
                replicator.restart(flow)
            except Exception as exc:  # noqa: BLE001 - said to the user as a reason
                raise UserError(f"cannot restart the replication: {reason(exc)}") from None
        connect = self.clients.connect(m.options)
        if connect and m.state.connector_copies:
            try:  # a moved connector that failed on the target's Connect starts again
                for name in m.state.connector_copies:
                    if connect[1].status(name).failures:
                        connect[1].restart_failed(name)
            except Exception as exc:  # noqa: BLE001 - said to the user as a reason
                raise UserError(f"cannot restart the moved connectors: {reason(exc)}") from None
        return self._transition(migration_id, actor, Verb.RETRY, EventKind.RETRIED, origin=origin)

    def cancel(
        self,
        migration_id: str,
        actor: str,
        reason: str | None = None,
        origin: dict[str, Any] | None = None,
        cleanup: str | None = None,
    ) -> Migration:
        """Cancel and undo what the migration did (see compensation.py); `cleanup="target"`
        also deletes the target topics and ACLs it created. A step that records a new side
        effect meanwhile moves the version on: the undo is done again with what it recorded
        (and the mover undoes what a step in flight applies after the cancel: Mover.tick)."""
        undone: list[str] = []
        for _attempt in range(5):
            m = self.store.get(migration_id)
            with self._refusing(m, actor, Verb.CANCEL, origin):
                lifecycle.check(m, Verb.CANCEL)
            done = compensation.undo(self.clients, self.runbook, m, cleanup)
            undone += [u for u in done if u not in undone]
            why = reason or f"cancelled by {actor}"
            lifecycle.move(
                m, Verb.CANCEL, why + ("; undone: " + ", ".join(undone) if undone else "")
            )
            if cleanup:
                m.state.cancel_cleanup = cleanup
            try:
                m = self.journal.save(
                    m, m.version, actor, EventKind.CANCELLED, m.reason, **(origin or {})
                )
            except ConcurrentUpdate:
                continue
            hint = rollback_hint(m.step, reverse=bool(m.options.get("reverse_via")))
            self.journal.announce(m, CARD_CHANGED, f"cancelled by {actor}. {hint}")
            return m
        raise UserError(f"{migration_id} kept changing while it was cancelled: try again")

    def undo_plan(self, migration_id: str, cleanup: str | None = None) -> list[str]:
        """What `cancel` would take back (refused as it would be: a UserError)."""
        m = self.store.get(migration_id)
        compensation.check_cleanup(m.step, cleanup)
        return compensation.undo_plan(m.state, cleanup, m.step)

    def skip(
        self, migration_id: str, actor: str, reason: str, origin: dict[str, Any] | None = None
    ) -> Migration:
        """Pass over the current step, if it is skippable, with a reason for the audit trail;
        an active or failed migration only (lifecycle.py says why)."""
        m = self.store.get(migration_id)
        with self._refusing(m, actor, Verb.SKIP, origin):
            lifecycle.check(m, Verb.SKIP)
            if not INFO[m.step].skippable:
                raise Refused(
                    f"{m.step} cannot be skipped (only "
                    + ", ".join(i.step for i in INFO.values() if i.skippable)
                    + ")"
                )
        if not reason.strip():
            raise UserError("skip needs a reason; it goes into the audit trail")
        version = m.version
        self.store.finish_step(m.id, m.step, "skipped", actor=actor, reason=reason)
        skipped = m.step
        lifecycle.move(m, Verb.SKIP)
        m.step = next_step(skipped)
        return self.journal.save(
            m,
            version,
            actor,
            EventKind.SKIPPED,
            f"{skipped} skipped by {actor}",
            reason,
            step=skipped,
            **(origin or {}),
        )

    def finalize(
        self, migration_id: str, actor: str, origin: dict[str, Any] | None = None
    ) -> Migration:
        """Ask to end the soak now: the finalize gate opens (approved like the cutover); on
        approval the reverse flow is deleted and the migration completes."""
        return self._ask(migration_id, actor, Verb.FINALIZE, Step.FINALIZE, origin)

    def rollback(
        self, migration_id: str, actor: str, origin: dict[str, Any] | None = None
    ) -> Migration:
        """Ask to roll back to the source: the rollback gate opens (approved like the cutover);
        on approval the cutover runs backwards (rollback.py)."""
        return self._ask(migration_id, actor, Verb.ROLLBACK, Step.ROLLBACK, origin)

    def _ask(
        self, migration_id: str, actor: str, verb: Verb, gate: Step, origin: dict[str, Any] | None
    ) -> Migration:
        m = self.store.get(migration_id)
        with self._refusing(m, actor, verb, origin):
            lifecycle.check(m, verb)
            if not m.options.get("reverse_via"):
                raise Refused(
                    f"{m.id} has no reverse flow (reverse_via): "
                    + (
                        "it completes after verify, there is no soak to end"
                        if verb == Verb.FINALIZE
                        else "rolling back means replicating back to the source by hand"
                    )
                )
            if m.step != Step.SOAK:
                raise Refused(
                    f"{m.id} is at {m.step}: {verb} is asked for during the soak only"
                    + (" (after verify)" if ORDER.index(m.step) < ORDER.index(Step.SOAK) else "")
                )
        version = m.version
        self.store.finish_step(m.id, Step.SOAK, "done", actor=actor, reason=f"{verb} asked for")
        lifecycle.move(m, verb)
        m.step, m.waiting_for = gate, None
        m.state.requested = {"step": str(gate), "by": actor}
        saved = self.journal.save(
            m, version, actor, EventKind.REQUESTED, f"{verb} asked for by {actor}", **(origin or {})
        )
        self.journal.announce(saved, CARD_CHANGED, f"{verb} asked for by {actor}")
        return saved
