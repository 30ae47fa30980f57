"""Deploying MirrorMaker 2 connectors on the sandbox's Connect worker, for tests."""

from __future__ import annotations

import re

import httpx

from bot.replicators.offsets import mirror_offsets
from tests.waits import wait_for  # noqa: F401 - re-exported for the MM2 tests

IDENTITY = "org.apache.kafka.connect.mirror.IdentityReplicationPolicy"
DEFAULT = "org.apache.kafka.connect.mirror.DefaultReplicationPolicy"


def cluster_settings(prefix: str, endpoint) -> dict[str, str]:
    password = endpoint.users["admin"]
    return {
        f"{prefix}.bootstrap.servers": endpoint.bootstrap_servers,
        f"{prefix}.security.protocol": "SASL_PLAINTEXT",
        f"{prefix}.sasl.mechanism": "PLAIN",
        f"{prefix}.sasl.jaas.config": "org.apache.kafka.common.security.plain.PlainLoginModule "
        f'required username="admin" password="{password}";',
    }


def base(sandbox, policy: str = IDENTITY) -> dict[str, str]:
    return {
        "source.cluster.alias": "source",
        "target.cluster.alias": "target",
        **cluster_settings("source.cluster", sandbox.source),
        **cluster_settings("target.cluster", sandbox.target),
        "replication.policy.class": policy,
        "tasks.max": "1",
    }


def source_connector(sandbox, topics: list[str], policy: str = IDENTITY, **extra) -> dict:
    return {
        "connector.class": "org.apache.kafka.connect.mirror.MirrorSourceConnector",
        **base(sandbox, policy),
        "topics": ",".join(re.escape(t) for t in topics),
        "replication.factor": "1",
        "offset-syncs.topic.replication.factor": "1",
        "offset.lag.max": "0",
        "sync.topic.acls.enabled": "false",
        "sync.topic.configs.enabled": "false",
        "refresh.topics.interval.seconds": "1",
        **extra,
    }


def checkpoint_connector(sandbox, groups: list[str], topics: list[str]) -> dict:
    return {
        "connector.class": "org.apache.kafka.connect.mirror.MirrorCheckpointConnector",
        **base(sandbox),
        "groups": ",".join(re.escape(g) for g in groups),
        "topics": ",".join(re.escape(t) for t in topics),
        "emit.checkpoints.interval.seconds": "1",
        "refresh.groups.interval.seconds": "1",
        "sync.group.offsets.enabled": "false",
        "checkpoints.topic.replication.factor": "1",
        "offset-syncs.topic.replication.factor": "1",
    }


class Connectors:
    """Create connectors; delete them all at the end."""

    def __init__(self, url: str):
        self.client = httpx.Client(base_url=url, timeout=30)
        self.names: list[str] = []

    def put(self, name: str, config: dict) -> None:
        response = self.client.put(f"/connectors/{name}/config", json=config)
        assert response.status_code in (200, 201), response.text
        self.names.append(name)

    def running(self, name: str) -> bool:
        status = self.client.get(f"/connectors/{name}/status").json()
        return (
            status.get("connector", {}).get("state") == "RUNNING"
            and all(t["state"] == "RUNNING" for t in status.get("tasks", []))
            and bool(status.get("tasks"))
        )

    def stop(self, name: str) -> None:
        assert self.client.put(f"/connectors/{name}/stop").status_code in (200, 202, 204)

    def close(self) -> None:
        for name in self.names:
            self.client.delete(f"/connectors/{name}")
        self.client.close()


__all__ = ["Connectors", "checkpoint_connector", "source_connector", "wait_for"]


def mm2_offsets(client: httpx.Client, connector: str) -> dict[tuple[str, int], int]:
    """A MirrorSourceConnector's last replicated source offset per partition (its REST API)."""
    response = client.get(f"/connectors/{connector}/offsets")
    response.raise_for_status()
    return mirror_offsets(response.json().get("offsets", []))
