"""What a cluster is: id, brokers, controller, Kafka version, authorizer, topics."""

from __future__ import annotations

from dataclasses import dataclass

from confluent_kafka import KafkaError

from bot.kafka import apiversions
from bot.kafka.acls import ANY_ACL
from bot.kafka.cluster import TIMEOUT, Cluster, error_code, error_text
from bot.kafka.select import is_internal


@dataclass(frozen=True)
class TopicInfo:
    name: str
    partitions: int
    internal: bool


@dataclass(frozen=True)
class ClusterInfo:
    cluster_id: str
    brokers: list[str]  # "id@host:port"
    controller: int | None
    kafka_version: str
    metadata_version: str | None
    authorizer: bool | None  # None: present, but we may not describe ACLs
    topics: list[TopicInfo]


def has_authorizer(cluster: Cluster) -> bool | None:
    """True with an authorizer, False without one (SECURITY_DISABLED), None when not allowed."""
    try:
        cluster.admin.describe_acls(ANY_ACL, request_timeout=TIMEOUT).result(timeout=TIMEOUT)
        return True
    except Exception as exc:  # noqa: BLE001 - classified below
        code = error_code(exc)
        if code == KafkaError.SECURITY_DISABLED or "SECURITY_DISABLED" in error_text(exc):
            return False
        if code == KafkaError.CLUSTER_AUTHORIZATION_FAILED:
            return None
        raise


def inspect(cluster: Cluster) -> ClusterInfo:
    described = cluster.admin.describe_cluster(request_timeout=TIMEOUT).result(timeout=TIMEOUT)
    conf = cluster.client_config
    versions = apiversions.fetch(
        conf["bootstrap.servers"], conf["security.protocol"], conf.get("ssl.ca.location")
    )
    meta = cluster.admin.list_topics(timeout=TIMEOUT)
    topics = [
        TopicInfo(name, len(t.partitions), is_internal(name))
        for name, t in sorted(meta.topics.items())
    ]
    return ClusterInfo(
        cluster_id=described.cluster_id,
        brokers=[f"{n.id}@{n.host}:{n.port}" for n in sorted(described.nodes, key=lambda n: n.id)],
        controller=described.controller.id if described.controller else None,
        kafka_version=versions.kafka_version,
        metadata_version=versions.metadata_version,
        authorizer=has_authorizer(cluster),
        topics=topics,
    )
