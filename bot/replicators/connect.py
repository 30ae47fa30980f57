"""MirrorMaker 2 connectors on a Kafka Connect cluster, through its REST API (httpx).

Three connectors per migration: `<id>-source` (MirrorSourceConnector), `<id>-checkpoint`
(MirrorCheckpointConnector) and, when heartbeats are on, `<id>-heartbeat`. Connector configs
carry the clusters' credentials (Connect needs them): they are compared in memory and never
logged. The CA file of a cluster must exist at the same path on the Connect workers.
"""

from __future__ import annotations

import time

import httpx

from bot.connect.rest import trace_summary
from bot.kafka.cluster import TP
from bot.reasons import reason, transient
from bot.replicators.base import FlowSpec, Replicator, ReplicatorError, ReplicatorStatus
from bot.replicators.offsets import connect_offsets

POLICIES = {
    "identity": "org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
    "default": "org.apache.kafka.connect.mirror.DefaultReplicationPolicy",
}
MIRROR = "org.apache.kafka.connect.mirror."
REBALANCE_WAIT = 60.0  # seconds to keep retrying while the Connect group rebalances
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
        "tasks.max": "4",
    }
    topics = {"topics": ",".join(flow.topics), "topics.exclude": ",".join(flow.topics_exclude)}
    syncs = {
        "offset-syncs.topic.location": flow.offset_syncs_location,
        "offset-syncs.topic.replication.factor": str(flow.replication_factor),
    }
    configs = {
        f"{flow.name}-source": {
            "connector.class": MIRROR + "MirrorSourceConnector",
            **common,
            **topics,
            **syncs,
            "replication.factor": str(flow.replication_factor),
            "offset.lag.max": str(flow.offset_lag_max),
            "sync.topic.configs.enabled": "false",  # the bot creates topics with their configs
            "sync.topic.acls.enabled": "false",  # the bot migrates ACLs itself
            "refresh.topics.interval.seconds": "30",
            "source.consumer.isolation.level": (
                "read_committed" if flow.read_committed else "read_uncommitted"
            ),
        },
        f"{flow.name}-checkpoint": {
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
        },
    }
    if flow.groups_exclude:
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
    def __init__(
        self,
        url: str,
        *,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
    ):
        auth = httpx.BasicAuth(username, password or "") if username else None
        self.url = url
        self.client = httpx.Client(base_url=url, auth=auth, timeout=timeout)

    def __repr__(self) -> str:
        return f"ConnectReplicator({self.url!r})"

    def _call(self, method: str, path: str, **kwargs) -> httpx.Response:
        """One REST call; retried while the Connect group rebalances (409, or 500 saying so)."""
        deadline = time.monotonic() + REBALANCE_WAIT
        delay = 0.2
        while True:
            try:
                response = self.client.request(method, path, **kwargs)
            except httpx.HTTPError as exc:
                raise ReplicatorError(
                    f"Kafka Connect at {self.url}: {method} {path}: {reason(exc)}",
                    retriable=transient(exc),
                ) from None
            if response.status_code < 400 or response.status_code == 404:
                return response
            try:
                message = response.json().get("message", "")
            except ValueError:
                message = response.text[:200]
            rebalancing = response.status_code == 409 or "rebalance" in message.lower()
            if not rebalancing or time.monotonic() > deadline:
                raise ReplicatorError(
                    f"Kafka Connect at {self.url}: {method} {path}: "
                    f"{response.status_code} {message}",
                    retriable=rebalancing or response.status_code >= 500,
                )
            time.sleep(delay)
            delay = min(delay * 2, 2.0)

    def check(self) -> None:
        self._call("GET", "/")

    def ensure(self, flow: FlowSpec) -> list[str]:
        for name, config in connector_configs(flow).items():
            current = self._call("GET", f"/connectors/{name}/config")
            if current.status_code == 200:
                existing = {k: v for k, v in current.json().items() if k != "name"}
                if existing == config:
                    continue  # already as wanted: no restart, no second connector
            self._call("PUT", f"/connectors/{name}/config", json=config)
        return list(connector_configs(flow))

    def status(self, flow: FlowSpec) -> ReplicatorStatus:
        parts, errors = {}, []
        for name in connector_configs(flow):
            response = self._call("GET", f"/connectors/{name}/status")
            if response.status_code == 404:
                parts[name] = "MISSING"
                continue
            body = response.json()
            states = [body["connector"]["state"]] + [t["state"] for t in body.get("tasks", [])]
            parts[name] = body["connector"]["state"]
            if body["connector"]["state"] == "FAILED":
                errors.append(f"{name}: {trace_summary(body['connector'].get('trace'))}")
            # the source connector must have tasks; the checkpoint one has none without groups
            if not body.get("tasks") and name.endswith("-source"):
                parts[name] += " (no tasks yet)"
            for task in body.get("tasks", []):
                if task["state"] == "FAILED":
                    errors.append(f"{name} task {task['id']}: {trace_summary(task.get('trace'))}")
            if "FAILED" in states:
                parts[name] = "FAILED"
        running = all(state == "RUNNING" for state in parts.values())
        return ReplicatorStatus(running, parts, errors)

    def restart(self, flow: FlowSpec) -> None:
        """Restart the flow's failed connectors and tasks (what `retry` asks for)."""
        for name in connector_configs(flow):
            self._call(
                "POST",
                f"/connectors/{name}/restart",
                params={"includeTasks": "true", "onlyFailed": "true"},
            )

    def replicated_offsets(self, flow: FlowSpec) -> dict[TP, int]:
        try:
            return connect_offsets(self.client, f"{flow.name}-source")
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code != 404:
                raise ReplicatorError(
                    f"Kafka Connect at {self.url}: offsets of {flow.name}-source: {reason(exc)}",
                    retriable=transient(exc),
                ) from None
            # a worker that just started has not read its connectors back yet; a connector
            # deleted by hand stays missing until the patience runs out (retry re-creates it)
            raise ReplicatorError(
                f"Kafka Connect at {self.url} does not know {flow.name}-source (restarting, "
                "or deleted?)",
                retriable=True,
            ) from None
        except httpx.HTTPError as exc:
            raise ReplicatorError(
                f"Kafka Connect at {self.url}: offsets of {flow.name}-source: {reason(exc)}",
                retriable=transient(exc),
            ) from None

    def pause(self, flow: FlowSpec) -> None:
        for name in connector_configs(flow):
            self._call("PUT", f"/connectors/{name}/pause")

    def resume(self, flow: FlowSpec) -> None:
        for name in connector_configs(flow):
            self._call("PUT", f"/connectors/{name}/resume")

    def delete(self, flow: FlowSpec) -> None:
        for name in connector_configs(flow):
            self._call("DELETE", f"/connectors/{name}")
