"""The clients of a migration's world, by configured name: clusters, replicators and schema
registries, built through factories (the ports: real ones by default, memory ones in the fast
tests) on first use and kept; `forget_*` drops one whose metadata a fault may have made stale."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from bot.config import Settings
from bot.connect.rest import ConnectRest
from bot.kafka.cluster import Cluster
from bot.models import Migration
from bot.replicators import FlowSpec, Replicator, from_settings
from bot.schemas.client import Registry


class Clients:
    def __init__(
        self,
        settings: Settings,
        clusters: Callable[[Settings, str], Cluster] = Cluster.from_settings,
        replicators: Callable[[Settings, str], Replicator] = from_settings,
        registries: Callable[[Settings, str], Registry] = Registry.from_settings,
        connects: Callable[[Settings, str], ConnectRest] = ConnectRest.from_settings,
    ):
        self.settings = settings
        self._make_cluster, self._make_replicator = clusters, replicators
        self._make_registry = registries
        self._make_connect = connects
        self._connects: dict[str, ConnectRest] = {}
        self._clusters: dict[str, Cluster] = {}
        self._replicators: dict[str, Replicator] = {}
        self._registries: dict[str, Registry] = {}

    def cluster(self, name: str) -> Cluster:
        if name not in self._clusters:
            self._clusters[name] = self._make_cluster(self.settings, name)
        return self._clusters[name]

    def replicator(self, name: str) -> Replicator:
        if name not in self._replicators:
            self._replicators[name] = self._make_replicator(self.settings, name)
        return self._replicators[name]

    def registry(self, name: str) -> Registry:
        if name not in self._registries:
            self._registries[name] = self._make_registry(self.settings, name)
        return self._registries[name]

    def connect_cluster(self, name: str) -> ConnectRest:
        if name not in self._connects:
            self._connects[name] = self._make_connect(self.settings, name)
        return self._connects[name]

    def connect(self, options: dict[str, Any]) -> tuple[ConnectRest, ConnectRest] | None:
        """The (old, new) Connect clusters whose connectors a migration moves, or None."""
        old, new = options.get("connect_from"), options.get("connect_to")
        return (self.connect_cluster(old), self.connect_cluster(new)) if old and new else None

    def forget_cluster(self, name: str) -> None:
        """Drop a cached client (its metadata may be stale after a fault)."""
        self._clusters.pop(name, None)

    def forget_connect(self, name: str) -> None:
        self._connects.pop(name, None)

    def forget_registry(self, name: str) -> None:
        self._registries.pop(name, None)

    def registries(self, options: dict[str, Any]) -> tuple[Registry, Registry] | None:
        """The (source, target) schema registries a migration names, or None."""
        source, target = options.get("source_registry"), options.get("target_registry")
        return (self.registry(source), self.registry(target)) if source and target else None

    def back(self, m: Migration) -> tuple[Replicator, FlowSpec] | None:
        """The reverse flow (target -> source) of a migration that names `reverse_via`."""
        return self.back_of(m.id, m.options, m.source, m.target, m.selected_topics)

    def back_of(
        self, mid: str, options: dict[str, Any], source: str, target: str, topics: list[str]
    ) -> tuple[Replicator, FlowSpec] | None:
        """The reverse flow on the `reverse_via` replicator: its MirrorSourceConnector only
        (offsets are handed back by the bot), with identity names (the grammar refuses another
        policy), never run beside the forward one."""
        name = options.get("reverse_via")
        if not name:
            return None
        conf = self.settings.config.replicators[name]
        flow = FlowSpec(
            name=f"km-{mid}-back",
            source=self.settings.kafka_client_config(target),
            target=self.settings.kafka_client_config(source),
            topics=[re.escape(t) for t in topics],
            groups=[],
            source_alias=conf.source_alias,
            target_alias=conf.target_alias,
            replication_policy="identity",
            emit_heartbeats=False,
            checkpoints=False,
            source_aiven=self.settings.aiven_service(target),
            target_aiven=self.settings.aiven_service(source),
        )
        return self.replicator(name), flow

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
            # decided once, at start_replication: the same figure at every ensure (no restart)
            tasks_max=(m.state.tasks or {}).get("tasks_max"),
        )
