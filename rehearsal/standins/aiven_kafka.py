"""What the Aiven API stand-in does on the real sandbox clusters: replication flows become
MirrorMaker 2 connectors on the Connect worker (bot.replicators.connect), their progress is read
from the data, native ACLs and topics are applied with Kafka's admin API.

Aiven's defaults where a flow leaves a field out: topics [".*"], MM2's default topic exclusions,
DefaultReplicationPolicy, offset_lag_max 100, sync_group_offsets_interval_seconds 60,
offset-syncs on the source, no heartbeats; groups and groups_exclude come from the MM2
service's user_config. The replication factor is the target's default unless the flow sets one
(Aiven's is 3, which a one-broker sandbox cannot hold).

MM2's internal topics, as the bot reads them on Aiven (assumed to be upstream MM2's, as Aiven
documents none of them): committed offsets in `mm2-offsets.<source alias>.internal` on the
target under `MirrorSourceConnector` (dedicated mode; copied there by OffsetsMirror, as the
stand-in's connectors commit to the worker's own topic), checkpoints in
`<source alias>.checkpoints.internal` on the target, offset syncs where the flow's
offset_syncs_topic_location says, heartbeats in `heartbeats` (IdentityReplicationPolicy) on the
target. The connectors write the last three themselves, as on Aiven.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from bot.kafka.acls import Acl
from bot.kafka.cluster import TIMEOUT, Cluster, KafkaOpError, gather
from bot.kafka.groups import end_offsets, start_offsets
from bot.kafka.progress import replication_progress
from bot.kafka.select import is_internal
from bot.replicators.base import FlowSpec, ReplicatorError
from bot.replicators.connect import ConnectReplicator

IDENTITY = "org.apache.kafka.connect.mirror.IdentityReplicationPolicy"
MM2_TOPICS_EXCLUDE = [r".*[\-\.]internal", r".*\.replica", r"__.*"]


SASL_SETTINGS = {  # external_kafka user_config -> librdkafka
    "sasl_mechanism": "sasl.mechanism",
    "sasl_plain_username": "sasl.username",
    "sasl_plain_password": "sasl.password",
}


def endpoint_client_config(user_config: Mapping[str, Any], files: Path) -> dict[str, str]:
    """An external_kafka endpoint's user_config as librdkafka settings (the CA written to a
    file under `files`, as the Connect worker reads it from a path)."""
    conf = {
        "bootstrap.servers": user_config["bootstrap_servers"],
        "security.protocol": user_config["security_protocol"],
    }
    conf |= {s: user_config[k] for k, s in SASL_SETTINGS.items() if user_config.get(k)}
    if user_config.get("ssl_ca_cert"):
        pem = user_config["ssl_ca_cert"]
        path = files / f"ca-{hashlib.sha256(pem.encode()).hexdigest()[:16]}.pem"
        path.write_text(pem)
        conf["ssl.ca.location"] = str(path)
    return conf


def external_kafka_user_config(conf: Mapping[str, str]) -> dict[str, str]:
    """librdkafka settings (SASL or plaintext) as an external_kafka endpoint's user_config."""
    config = {
        "bootstrap_servers": conf["bootstrap.servers"],
        "security_protocol": conf.get("security.protocol", "PLAINTEXT"),
    }
    return config | {k: conf[s] for k, s in SASL_SETTINGS.items() if conf.get(s)}


@functools.cache
def _cluster(name: str, settings: tuple[tuple[str, str], ...]) -> Cluster:
    return Cluster(name, dict(settings))


def cluster(name: str, conf: Mapping[str, str]) -> Cluster:
    """One admin connection per cluster and settings for the process (requests come often)."""
    return _cluster(name, tuple(sorted(conf.items())))


def _split(text: str | None, default: str) -> list[str]:
    return [part.strip() for part in (text or default).split(",") if part.strip()]


def flow_spec(
    name: str,
    aliases: tuple[str, str],
    clients: tuple[Mapping[str, str], Mapping[str, str]],
    flow: Mapping[str, Any],
    mm2_config: Mapping[str, Any],
) -> FlowSpec:
    """The MM2 connectors of an Aiven replication flow (its fields, with Aiven's defaults)."""
    exclude = flow.get("topics_exclude") or flow.get("topics.exclude")
    return FlowSpec(
        name=name,
        source=dict(clients[0]),
        target=dict(clients[1]),
        topics=list(flow.get("topics") or [".*"]),
        topics_exclude=list(exclude or flow.get("topics.blacklist") or MM2_TOPICS_EXCLUDE),
        groups=_split(mm2_config.get("groups"), ".*"),
        groups_exclude=_split(mm2_config.get("groups_exclude"), ""),
        source_alias=aliases[0],
        target_alias=aliases[1],
        replication_policy=(
            "identity" if flow.get("replication_policy_class") == IDENTITY else "default"
        ),
        replication_factor=flow.get("replication_factor", -1),
        sync_group_offsets=flow.get("sync_group_offsets_enabled", False),
        sync_group_offsets_interval_s=flow.get("sync_group_offsets_interval_seconds", 60),
        emit_checkpoints_interval_s=mm2_config.get("emit_checkpoints_interval_seconds", 60),
        offset_syncs_location=flow.get("offset_syncs_topic_location", "source"),
        offset_lag_max=flow.get("offset_lag_max", 100),
        emit_heartbeats=flow.get("emit_heartbeats_enabled", False),
    )


def deploy(connect: ConnectReplicator, spec: FlowSpec) -> str | None:
    """The flow's connectors as it wants them; the worker's refusal, if any."""
    try:
        connect.ensure(spec)
        if not spec.emit_heartbeats:  # turned off by an update
            connect.client.delete(f"/connectors/{spec.name}-heartbeat")
    except (ReplicatorError, httpx.HTTPError) as exc:
        return str(exc)
    return None


def remove(connect: ConnectReplicator, name: str) -> str | None:
    """No connectors for the flow (disabled, deleted, or its aliases name no cluster)."""
    nowhere = {"bootstrap.servers": ""}
    spec = FlowSpec(name, nowhere, nowhere, [], emit_heartbeats=True)  # names all three
    try:
        connect.delete(spec)
    except ReplicatorError as exc:
        return str(exc)
    return None


def _matches(patterns: list[str], topic: str) -> bool:
    return any(re.fullmatch(p, topic) for p in patterns)


def progress(connect: ConnectReplicator, spec: FlowSpec) -> float:
    """Share of the flow's source records (log start to end, all its topics) replicated."""
    source = cluster(spec.source_alias, spec.source)
    metadata = source.admin.list_topics(timeout=TIMEOUT)
    partitions = [
        (name, p)
        for name, topic in metadata.topics.items()
        if not is_internal(name)
        and _matches(spec.topics, name)
        and not _matches(spec.topics_exclude, name)
        for p in topic.partitions
    ]
    try:
        replicated = connect.replicated_offsets(spec)
    except ReplicatorError:
        replicated = {}
    rows = replication_progress(source, replicated, partitions).partitions
    total = sum(row.end - row.start for row in rows)
    return 1.0 if total == 0 else round(max(0.0, 1 - sum(row.lag for row in rows) / total), 4)


def probe(conf: Mapping[str, str], timeout: float = 10.0) -> str | None:
    """Why the cluster cannot be used with these settings (unreachable, refused login)."""
    why = Cluster("probe", conf).unreachable()
    if why:
        return why
    refusals: list[str] = []
    admin = AdminClient({**conf, "log_level": 0, "error_cb": lambda e: refusals.append(e.str())})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        login = [r for r in refusals if "auth" in r.lower()]
        if login:
            return login[0][:300]
        try:
            admin.list_topics(timeout=0.5)
            return None
        except KafkaException:
            admin.poll(0.1)  # serves error_cb
    return (refusals or [f"no answer in {timeout:.0f}s"])[-1][:300]


def native_acl(body: Mapping[str, str]) -> Acl:
    resource = re.sub(r"(?<!^)([A-Z])", r"_\1", body["resource_type"]).upper()
    operation = re.sub(r"(?<!^)([A-Z])", r"_\1", body["operation"]).upper()
    return Acl(
        resource,
        body["resource_name"],
        body["pattern_type"],
        body["principal"],
        body.get("host") or "*",
        operation,
        body["permission_type"],
    )


def add_acl(cluster: Cluster, acl: Acl) -> None:
    futures = cluster.admin.create_acls([acl.binding()], request_timeout=TIMEOUT)
    gather(futures, f"add ACL on {cluster.name}")


def delete_acl(cluster: Cluster, acl: Acl) -> None:
    futures = cluster.admin.delete_acls([acl.filter()], request_timeout=TIMEOUT)
    gather(futures, f"delete ACL on {cluster.name}")


def create_topic(cluster: Cluster, body: Mapping[str, Any]) -> None:
    config = {"cleanup.policy": body.get("cleanup_policy", "delete")}
    if "min_insync_replicas" in body:
        config["min.insync.replicas"] = str(body["min_insync_replicas"])
    if "retention_bytes" in body:
        config["retention.bytes"] = str(body["retention_bytes"])
    if body.get("retention_hours", -1) >= 0:
        config["retention.ms"] = str(body["retention_hours"] * 3_600_000)
    for key, value in (body.get("config") or {}).items():
        config[key.replace("_", ".")] = (
            str(value).lower() if isinstance(value, bool) else str(value)
        )
    topic = NewTopic(
        body["topic_name"], body.get("partitions", 1), body.get("replication", -1), config=config
    )
    futures = cluster.admin.create_topics([topic], request_timeout=TIMEOUT)
    gather(futures, f"create topic {body['topic_name']} on {cluster.name}")


def describe_topic(cluster: Cluster, name: str) -> dict[str, Any] | None:
    """The topic as Aiven answers it, or None when the cluster has no such topic."""
    topic = cluster.admin.list_topics(name, timeout=TIMEOUT).topics.get(name)
    if topic is None or topic.error is not None:
        return None
    try:
        tps = [(name, p) for p in topic.partitions]
        ends, starts = end_offsets(cluster, tps), start_offsets(cluster, tps)
    except KafkaOpError:
        ends, starts = {}, {}
    partitions = [
        {
            "partition": p,
            "isr": len(info.isrs),
            "size": 0,
            "earliest_offset": starts.get((name, p), 0),
            "latest_offset": ends.get((name, p), 0),
            "consumer_groups": [],
        }
        for p, info in sorted(topic.partitions.items())
    ]
    replication = len(next(iter(topic.partitions.values())).replicas) if partitions else 1
    return {"topic_name": name, "partitions": partitions, "replication": replication}


MM2_OFFSETS = "mm2-offsets.{source}.internal"  # on the target, as MM2 in dedicated mode


class OffsetsMirror:
    """Where Aiven's MM2 keeps its committed source offsets, as the bot reads them: on the
    target, in `mm2-offsets.<source alias>.internal`, keyed by connector `MirrorSourceConnector`
    (MM2's dedicated mode; assumed of Aiven, whose MM2 internals are not documented). The
    stand-in's connectors commit to the Connect worker's own offsets topic under their names:
    `copy` writes what changed there into that topic, as the worker would."""

    CONNECTOR = "MirrorSourceConnector"

    def __init__(self) -> None:
        self._sent: dict[tuple[str, str, str, int], int] = {}
        self._producers: dict[str, Producer] = {}
        self._topics: set[tuple[str, str]] = set()

    def copy(self, connect: ConnectReplicator, spec: FlowSpec) -> int:
        """Copy the flow's new committed offsets; how many were written."""
        try:
            offsets = connect.replicated_offsets(spec)
        except ReplicatorError:  # connectors not there yet, or the worker restarting
            return 0
        where = spec.target["bootstrap.servers"]
        alias = spec.source_alias
        changed = {tp: o for tp, o in offsets.items() if self._sent.get((where, alias, *tp)) != o}
        if not changed:
            return 0
        topic = MM2_OFFSETS.format(source=alias)
        if where not in self._producers:
            self._producers[where] = Producer({**spec.target, "log_level": 3})
        if (where, topic) not in self._topics:
            target = cluster(f"{alias}-offsets", spec.target)
            new = NewTopic(topic, 1, -1, config={"cleanup.policy": "compact"})
            try:
                gather(
                    target.admin.create_topics([new], request_timeout=TIMEOUT), f"create {topic}"
                )
            except KafkaOpError as exc:
                if "exist" not in str(exc).lower():
                    raise
            self._topics.add((where, topic))
        producer = self._producers[where]
        for (t, p), offset in sorted(changed.items()):
            key = [self.CONNECTOR, {"cluster": alias, "partition": p, "topic": t}]
            producer.produce(topic, key=json.dumps(key), value=json.dumps({"offset": offset}))
        if producer.flush(10) != 0:
            return 0
        for tp, offset in changed.items():
            self._sent[(where, alias, *tp)] = offset
        return len(changed)

    def close(self) -> None:
        for producer in self._producers.values():
            producer.flush(5)
        self._producers.clear()
