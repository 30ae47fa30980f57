"""MirrorMaker 2 connectors on a Kafka Connect cluster, through its REST API (httpx).

Three connectors per migration: `<id>-source` (MirrorSourceConnector), `<id>-checkpoint`
(MirrorCheckpointConnector) and, when heartbeats are on, `<id>-heartbeat`. Connector configs
carry the clusters' credentials (Connect needs them): they are compared in memory and never
logged. The CA file of a cluster must exist at the same path on the Connect workers.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from bot.connect.rest import ConnectError, ConnectRest
from bot.kafka.cluster import TP
from bot.replicators.base import (
    Finding,
    FlowSpec,
    Replicator,
    ReplicatorError,
    ReplicatorStatus,
)
from bot.replicators.offsets import mirror_offsets
from bot.replicators.tasks import LEGACY_TASKS_MAX, TASKS_PER_WORKER, TaskSizing, size_tasks

POLICIES = {
    "identity": "org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
    "default": "org.apache.kafka.connect.mirror.DefaultReplicationPolicy",
}
MIRROR = "org.apache.kafka.connect.mirror."
REBALANCE_WAIT = 60.0  # seconds to keep retrying while the Connect group rebalances
READ_BACK_WAIT = 15.0  # seconds to wait for a worker to read its own offsets write back
LOGIN = {
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
}


def _jaas_quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def java_client_settings(prefix: str, conf) -> dict[str, str]:
    """librdkafka settings -> the Java client settings MM2 takes under `prefix`."""
    out = {
        f"{prefix}bootstrap.servers": conf["bootstrap.servers"],
        f"{prefix}security.protocol": conf.get("security.protocol", "PLAINTEXT"),
    }
    mechanism = conf.get("sasl.mechanism")
    if mechanism:
        out[f"{prefix}sasl.mechanism"] = mechanism
        out[f"{prefix}sasl.jaas.config"] = (
            f"{LOGIN[mechanism]} required username={_jaas_quote(conf['sasl.username'])} "
            f"password={_jaas_quote(conf['sasl.password'])};"
        )
    if conf.get("ssl.ca.location"):
        out[f"{prefix}ssl.truststore.type"] = "PEM"
        out[f"{prefix}ssl.truststore.location"] = conf["ssl.ca.location"]
    return out


def source_connector(flow: FlowSpec) -> str:
    return f"{flow.name}-source"


def start_offsets(flow: FlowSpec, starts: Mapping[TP, int]) -> list[dict]:
    """A MirrorSourceConnector's offsets that make it copy each partition from `starts[tp]`:
    the offset stored is the last record copied (it resumes at N + 1); an empty partition is
    left out (Connect refuses a negative offset; with none it starts at the beginning)."""
    return [
        {
            "partition": {"cluster": flow.source_alias, "topic": topic, "partition": partition},
            "offset": {"offset": start - 1},
        }
        for (topic, partition), start in sorted(starts.items())
        if start > 0
    ]


def connector_configs(flow: FlowSpec) -> dict[str, dict[str, str]]:
    common = {
        "source.cluster.alias": flow.source_alias,
        "target.cluster.alias": flow.target_alias,
        **java_client_settings("source.cluster.", flow.source),
        **java_client_settings("target.cluster.", flow.target),
        "replication.policy.class": POLICIES[flow.replication_policy],
        "key.converter": "org.apache.kafka.connect.converters.ByteArrayConverter",
        "value.converter": "org.apache.kafka.connect.converters.ByteArrayConverter",
        "header.converter": "org.apache.kafka.connect.converters.ByteArrayConverter",
    }
    topics = {"topics": ",".join(flow.topics), "topics.exclude": ",".join(flow.topics_exclude)}
    syncs = {
        "offset-syncs.topic.location": flow.offset_syncs_location,
        "offset-syncs.topic.replication.factor": str(flow.replication_factor),
    }
    configs = {
        source_connector(flow): {
            "connector.class": MIRROR + "MirrorSourceConnector",
            **common,
            **topics,
            **syncs,
            "tasks.max": str(flow.tasks_max or LEGACY_TASKS_MAX),
            "replication.factor": str(flow.replication_factor),
            "offset.lag.max": str(flow.offset_lag_max),
            "sync.topic.configs.enabled": "false",  # the bot creates topics with their configs
            "sync.topic.acls.enabled": "false",  # the bot migrates ACLs itself
            "refresh.topics.interval.seconds": "30",
            "source.consumer.isolation.level": (
                "read_committed" if flow.read_committed else "read_uncommitted"
            ),
        },
    }
    if flow.checkpoints:
        configs[f"{flow.name}-checkpoint"] = {
            "connector.class": MIRROR + "MirrorCheckpointConnector",
            **common,
            **topics,
            **syncs,
            "groups": ",".join(flow.groups),
            "emit.checkpoints.interval.seconds": str(flow.emit_checkpoints_interval_s),
            "sync.group.offsets.enabled": str(flow.sync_group_offsets).lower(),
            "sync.group.offsets.interval.seconds": str(flow.sync_group_offsets_interval_s),
            "refresh.groups.interval.seconds": "30",
            "checkpoints.topic.replication.factor": str(flow.replication_factor),
            "tasks.max": "1",
        }
    if flow.checkpoints and flow.groups_exclude:
        configs[f"{flow.name}-checkpoint"]["groups.exclude"] = ",".join(flow.groups_exclude)
    if flow.emit_heartbeats:
        configs[f"{flow.name}-heartbeat"] = {
            "connector.class": MIRROR + "MirrorHeartbeatConnector",
            **common,
            "emit.heartbeats.interval.seconds": "5",
            "heartbeats.topic.replication.factor": str(flow.replication_factor),
            "tasks.max": "1",
        }
    return configs


class ConnectReplicator(Replicator):
    """The flow's connectors on one Connect cluster, through its REST client (ConnectRest);
    its failures are ReplicatorErrors, retriable as the client says."""

    def __init__(
        self,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        workers: int | None = None,
        tasks_per_worker: int = TASKS_PER_WORKER,
        tasks_max: int | None = None,
    ):
        self.url = url
        self.workers, self.tasks_per_worker, self.tasks_max = workers, tasks_per_worker, tasks_max
        self.rest = ConnectRest(
            "", url, username, password, timeout=timeout, rebalance_wait=REBALANCE_WAIT
        )
        self.client = self.rest.http  # the worker's own answers, for tests that look

    def __repr__(self) -> str:
        return f"ConnectReplicator({self.url!r})"

    @contextmanager
    def _calls(self) -> Iterator[ConnectRest]:
        try:
            yield self.rest
        except ConnectError as exc:
            raise ReplicatorError(str(exc), retriable=exc.retriable) from None

    def check(self) -> None:
        with self._calls() as rest:
            rest.info()

    @property
    def where(self) -> str:
        return f"Kafka Connect at {self.url}"

    def kafka_cluster_id(self) -> str | None:
        with self._calls() as rest:
            return rest.info().get("kafka_cluster_id")

    def preflight_findings(self, flow: FlowSpec, *, schemas: bool = False) -> list[Finding]:
        """For a reverse flow (no checkpoints): the worker has MirrorSourceConnector. (A forward
        flow's missing plugin fails start_replication with Connect's own words.)"""
        if flow.checkpoints:
            return []
        with self._calls() as rest:
            plugins = rest.plugins()
        cls = MIRROR + "MirrorSourceConnector"
        if cls in plugins:
            return [Finding(True, f"{self.where} has MirrorSourceConnector {plugins[cls].version}")]
        return [
            Finding(
                False,
                f"{self.where} has no MirrorSourceConnector plugin (connect-mirror on its "
                "plugin.path)",
            )
        ]

    def size_tasks(self, partitions: int) -> TaskSizing:
        """tasks.max for `partitions` source partitions on this Connect cluster (tasks.py).

        Its number of workers: the replicator's configured `workers`, because Kafka Connect's
        REST API names no member of its group (`GET /` answers version, commit and
        kafka_cluster_id; `/health` speaks for the worker asked; Kafka 4.3.1), and the group
        itself lives in the Kafka cluster's group coordinator under a group.id the API does
        not tell (librdkafka's describe refuses a `connect` group anyway). Without it, the
        distinct worker ids of every connector and task in `GET /connectors?expand=status`:
        every worker once the cluster runs at least as many connectors and tasks as it has
        workers (Connect's assignor spreads both), a lower bound otherwise (an idle worker runs
        nothing), none on an empty cluster — hence at least 1, and the plan says it was
        counted."""
        if self.tasks_max is not None:
            return size_tasks(partitions, None, tasks_max=self.tasks_max)
        if self.workers is not None:
            return size_tasks(partitions, self.workers, tasks_per_worker=self.tasks_per_worker)
        with self._calls() as rest:
            seen = rest.worker_ids()
        return size_tasks(
            partitions, len(seen), tasks_per_worker=self.tasks_per_worker, workers_seen=True
        )

    def ensure(self, flow: FlowSpec) -> list[str]:
        with self._calls() as rest:
            for name, config in connector_configs(flow).items():
                current = rest.config(name)
                if current is not None:
                    existing = {k: v for k, v in current.items() if k != "name"}
                    if existing == config:
                        continue  # already as wanted: no restart, no second connector
                rest.put_config(name, config)
        return list(connector_configs(flow))

    def start_from(self, flow: FlowSpec, starts: Mapping[TP, int]) -> list[str]:
        """The MirrorSourceConnector created STOPPED, its offsets written through Connect's
        offsets API (KIP-875) and read back, then resumed; one found STOPPED (a restart between
        the two) gets its offsets written again; one that runs is left alone."""
        configs = connector_configs(flow)
        name = source_connector(flow)
        wanted = start_offsets(flow, starts)
        expected = {tp: start - 1 for tp, start in starts.items() if start > 0}
        with self._calls() as rest:
            for part, config in configs.items():
                if part != name and rest.config(part) is None:
                    rest.create(part, config, initial_state="RUNNING")
            if rest.config(name) is None:
                rest.create(name, configs[name], initial_state="STOPPED")
            deadline = time.monotonic() + READ_BACK_WAIT
            while (state := rest.status(name).state) in ("MISSING", "UNASSIGNED"):
                if time.monotonic() > deadline:  # just created: its state is not known yet
                    raise ReplicatorError(
                        f"{name}: no state after {READ_BACK_WAIT:.0f}s", retriable=True
                    )
                time.sleep(0.2)
            if state != "STOPPED":
                return list(configs)  # started before: copying from where it stands
            if wanted:
                rest.alter_offsets(name, wanted)
            deadline = time.monotonic() + READ_BACK_WAIT
            while (got := mirror_offsets(rest.offsets(name))) != expected:
                if time.monotonic() > deadline:
                    raise ReplicatorError(
                        f"{name}: wrote its start offsets, {self.url} reads back "
                        f"{len(got)} of {len(expected)} as written",
                        retriable=True,
                    )
                time.sleep(0.2)
            rest.resume(name)
        return list(configs)

    def status(self, flow: FlowSpec) -> ReplicatorStatus:
        parts, errors = {}, []
        with self._calls() as rest:
            states = {name: rest.status(name) for name in connector_configs(flow)}
        for name, state in states.items():
            if state.state == "MISSING":
                parts[name] = "MISSING"
                continue
            parts[name] = state.state
            errors.extend(state.failures)
            # the source connector must have tasks; the checkpoint one has none without groups
            if not state.tasks and name.endswith("-source"):
                parts[name] += " (no tasks yet)"
            if state.failures:
                parts[name] = "FAILED"
        running = all(state == "RUNNING" for state in parts.values())
        return ReplicatorStatus(running, parts, errors)

    def restart(self, flow: FlowSpec) -> None:
        """Restart the flow's failed connectors and tasks (what `retry` asks for)."""
        with self._calls() as rest:
            for name in connector_configs(flow):
                rest.restart_failed(name)

    def replicated_offsets(self, flow: FlowSpec) -> dict[TP, int]:
        name = source_connector(flow)
        try:
            return mirror_offsets(self.rest.offsets(name))
        except ConnectError as exc:
            if exc.status != 404:
                raise ReplicatorError(str(exc), retriable=exc.retriable) from None
            # a worker that just started has not read its connectors back yet; a connector
            # deleted by hand stays missing until the patience runs out (retry re-creates it)
            raise ReplicatorError(
                f"Kafka Connect at {self.url} does not know {name} (restarting, or deleted?)",
                retriable=True,
            ) from None

    def pause(self, flow: FlowSpec) -> None:
        with self._calls() as rest:
            for name in connector_configs(flow):
                rest.pause(name)

    def resume(self, flow: FlowSpec) -> None:
        with self._calls() as rest:
            for name in connector_configs(flow):
                rest.resume(name)

    def delete(self, flow: FlowSpec) -> None:
        with self._calls() as rest:
            for name in connector_configs(flow):
                rest.delete(name)
