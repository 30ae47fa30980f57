"""The engine: a migration's world (configuration, store, notifier, clock, and the clients of
its clusters, replicators and registries, built through the ports) and its two collaborators:
`mover` (mover.py: `tick` moves the runbook, one verified step at a time) and `verbs`
(verbs.py: what people do: start, decide, pause, resume, retry, cancel, skip; each checked,
audited, or refused with the reason).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from typing import Any

from bot.config import Settings
from bot.kafka.cluster import Cluster
from bot.migration import actions, approvals, view
from bot.migration.context import Context, Observations
from bot.migration.mover import Mover
from bot.migration.notify import Note, Notification, Notifier
from bot.migration.ports import Runbook
from bot.migration.store import Store
from bot.migration.verbs import Verbs
from bot.models import EventKind, Migration
from bot.replicators import FlowSpec, Replicator, from_settings
from bot.schemas.client import Registry

log = logging.getLogger(__name__)


class Engine:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        notifier: Notifier,
        clock: Callable[[], float] = time.time,
        *,
        runbook: Runbook = actions.RUNBOOK,
        clusters: Callable[[Settings, str], Cluster] = Cluster.from_settings,
        replicators: Callable[[Settings, str], Replicator] = from_settings,
        registries: Callable[[Settings, str], Registry] = Registry.from_settings,
    ):
        """The ports (see ports.py): `runbook` (the steps' work on Kafka), `clusters` and
        `replicators` (factories by configured name), `notifier`; the defaults are the real
        ones."""
        self.settings = settings
        self.store = store
        self.notifier = notifier
        self.clock = clock
        self.runbook = runbook
        self._make_cluster, self._make_replicator = clusters, replicators
        self._make_registry = registries
        self.observed: dict[str, Observations] = {}
        self._clusters: dict[str, Cluster] = {}
        self._replicators: dict[str, Replicator] = {}
        self._registries: dict[str, Registry] = {}
        self.mover = Mover(self)
        self.verbs = Verbs(self)

    # wiring -------------------------------------------------------------------------------
    def cluster(self, name: str) -> Cluster:
        if name not in self._clusters:
            self._clusters[name] = self._make_cluster(self.settings, name)
        return self._clusters[name]

    def replicator(self, name: str) -> Replicator:
        if name not in self._replicators:
            self._replicators[name] = self._make_replicator(self.settings, name)
        return self._replicators[name]

    def forget_cluster(self, name: str) -> None:
        """Drop a cached client (its metadata may be stale after a fault)."""
        self._clusters.pop(name, None)

    def forget_registry(self, name: str) -> None:
        self._registries.pop(name, None)

    def registry(self, name: str) -> Registry:
        if name not in self._registries:
            self._registries[name] = self._make_registry(self.settings, name)
        return self._registries[name]

    def registries(self, options: dict[str, Any]) -> tuple[Registry, Registry] | None:
        """The (source, target) schema registries a migration names, or None."""
        source, target = options.get("source_registry"), options.get("target_registry")
        return (self.registry(source), self.registry(target)) if source and target else None

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
            source_aiven=self.settings.aiven_service(m.source),
            target_aiven=self.settings.aiven_service(m.target),
        )

    def approval_rule(self) -> approvals.ApprovalRule:
        slack = self.settings.config.slack
        cli = {f"cli:{u}" for u in self.settings.config.cli.approvers}
        return approvals.ApprovalRule(
            approvers=frozenset(set(slack.approvers if slack else []) | cli),
            two_person_rule=slack.two_person_rule if slack else True,
            required=slack.required_approvals if slack else 1,
        )

    def context(self, m: Migration) -> Context:
        return Context(
            m,
            self.cluster(m.source),
            self.cluster(m.target),
            self.replicator(m.replicator),
            self.flow(m),
            self.settings.config.timing,
            self.observed.setdefault(m.id, Observations()),
            self.clock(),
            lambda key, value: self.store.record_state(m.id, key, value),
            self.registries(m.options),
        )

    def note(self, m: Migration, kind: Note, text: str, **data: Any) -> None:
        try:
            self.notifier.notify(Notification(kind, m.id, text, m.step, data))
        except Exception:  # noqa: BLE001 - a notification failure must not stop the runbook
            log.exception("notification %s for %s failed", kind, m.id)

    def save(
        self,
        m: Migration,
        version: int,
        actor: str,
        kind: EventKind,
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
        self.note(m, Note.CARD_CHANGED, message)
        return m

    # reading: the read model (view.py) --------------------------------------------------
    def view(self, migration_id: str) -> view.MigrationView:
        return view.migration_view(self.store, migration_id)

    def rows(self, open_only: bool = False) -> list[view.Row]:
        return view.rows(self.store, open_only)

    def report(self, migration_id: str) -> view.Report:
        return view.report(self.store, migration_id)
