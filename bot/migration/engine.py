"""The engine: the composition root of a migration's world. It builds the collaborators once,
explicitly (the clients of clusters, replicators and registries through the ports, the journal
over the store and the notifier, the approval rule, the clock) and hands them to the two that
act: `mover` (mover.py: `tick` moves the runbook, one verified step at a time) and `verbs`
(verbs.py: what people do: start, decide, pause, resume, retry, cancel, skip; each checked
against the lifecycle, audited, or refused with the reason). Reading goes through view.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.config import Settings
from bot.kafka.cluster import Cluster
from bot.migration import actions, approvals, view
from bot.migration.clients import Clients
from bot.migration.context import Observations
from bot.migration.journal import Journal
from bot.migration.mover import Mover
from bot.migration.notify import Notifier
from bot.migration.ports import Runbook
from bot.migration.store import Store
from bot.migration.verbs import Verbs
from bot.replicators import Replicator, from_settings
from bot.schemas.client import Registry


class Engine:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        notifier: Notifier,
        clock: Callable[[], float] = time.time,
        *,
        runbook: Runbook = actions.KAFKA_RUNBOOK,
        clusters: Callable[[Settings, str], Cluster] = Cluster.from_settings,
        replicators: Callable[[Settings, str], Replicator] = from_settings,
        registries: Callable[[Settings, str], Registry] = Registry.from_settings,
    ):
        """The ports (see ports.py): `runbook` (the steps' work on Kafka), `clusters`,
        `replicators` and `registries` (factories by configured name), `notifier`; the
        defaults are the real ones."""
        self.settings = settings
        self.store = store
        self.notifier = notifier
        self.clients = Clients(settings, clusters, replicators, registries)
        self.rule = approvals.rule_of(settings.config)
        observed: dict[str, Observations] = {}  # per migration, by this process
        journal = Journal(store, notifier)
        self.mover = Mover(
            journal, self.clients, runbook, self.rule, settings.config.timing, clock, observed
        )
        self.verbs = Verbs(settings, journal, self.clients, runbook, self.rule, observed)

    def approval_rule(self) -> approvals.ApprovalRule:
        return self.rule

    def check_operator(
        self, migration_id: str, actor: str, actor_groups: frozenset[str] = frozenset()
    ) -> None:
        """Refused unless `actor` may operate the migration (its requester or an approver)."""
        m = self.store.get(migration_id)
        approvals.check_operator(
            self.rule,
            migration_id=m.id,
            requested_by=m.requested_by,
            actor=actor,
            actor_groups=actor_groups,
        )

    # reading: the read model (view.py) --------------------------------------------------
    def view(self, migration_id: str) -> view.MigrationView:
        return view.migration_view(self.store, migration_id)

    def rows(self, open_only: bool = False) -> list[view.Row]:
        return view.rows(self.store, open_only)

    def report(self, migration_id: str) -> view.Report:
        return view.report(self.store, migration_id)
