"""What the Aiven API stand-in does on the real sandbox clusters: replication flows become
MirrorMaker 2 connectors on a Connect worker attached to the flow's target cluster (a
MirrorSourceConnector writes into its worker's own cluster; bot.replicators.connect), their
progress is read from the data, native ACLs and topics are applied with Kafka's admin API.

As Aiven's MM2 in dedicated mode, an enabled flow's MirrorSourceConnector starts from the
positions found in `mm2-offsets.<source alias>.internal` on the target, read as Connect reads
its offsets topic (the last record per exact key bytes; no entry: from the beginning; `start`);
a disabled flow runs no connector, its last positions committed there first (`remove`).

Aiven's defaults where a flow leaves a field out: topics [".*"], MM2's default topic exclusions,
DefaultReplicationPolicy, offset_lag_max 100, sync_group_offsets_interval_seconds 60,
offset-syncs on the source, no heartbeats; groups and groups_exclude come from the MM2
service's user_config. The replication factor is the target's default unless the flow sets one
(Aiven's is 3, which a one-broker sandbox cannot hold).

MM2's internal topics, as Aiven's docs name them: committed offsets in
`mm2-offsets.<source alias>.internal` on the target under `MirrorSourceConnector` (dedicated
mode; 25 partitions, compacted; copied there by OffsetsMirror, as the stand-in's connectors
commit to their worker's own topic), checkpoints in
`<source alias>.checkpoints.internal` on the target, offset syncs where the flow's
offset_syncs_topic_location says, heartbeats in `heartbeats` (IdentityReplicationPolicy) on the
target. The connectors write the last three themselves, as on Aiven.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from bot.connect.rest import ConnectError
from bot.kafka.acls import Acl
from bot.kafka.cluster import TIMEOUT, TP, Cluster, KafkaOpError, gather
from bot.kafka.groups import end_offsets, start_offsets
from bot.kafka.progress import replication_progress
from bot.kafka.records import scan_topic
from bot.kafka.select import is_internal
from bot.replicators.base import FlowSpec, ReplicatorError
from bot.replicators.connect import ConnectReplicator, connector_configs, source_connector
from bot.replicators.offsets import JAVA_PARTITIONER, mirror_offsets, offset_key, offset_record

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


FAILURES = (ReplicatorError, ConnectError, httpx.HTTPError, KafkaException, KafkaOpError)
SETTLE = 30.0  # seconds for a connector to stop, or to show the offsets written to it


def deploy(connect: ConnectReplicator, spec: FlowSpec, store: OffsetsMirror) -> str | None:
    """The flow's connectors as it wants them, its MirrorSourceConnector started from the
    stored positions when it does not run yet; the worker's refusal, if any."""
    try:
        if connect.rest.status(source_connector(spec)).state in ("MISSING", "STOPPED"):
            start(connect, spec, store)
        connect.ensure(spec)  # the other connectors; a running source is updated in place
        if not spec.emit_heartbeats:  # turned off by an update
            connect.client.delete(f"/connectors/{spec.name}-heartbeat")
    except (*FAILURES, TimeoutError) as exc:
        return str(exc)
    return None


def start(connect: ConnectReplicator, spec: FlowSpec, store: OffsetsMirror) -> None:
    """The MirrorSourceConnector created STOPPED, given exactly the stored positions (its own
    older ones reset), read back, then resumed: MM2 starting from its offsets topic."""
    rest, name = connect.rest, source_connector(spec)
    config = connector_configs(spec)[name]
    current = rest.config(name)
    if current is None:
        rest.create(name, config, initial_state="STOPPED")
    elif {k: v for k, v in current.items() if k != "name"} != config:
        rest.put_config(name, config)  # a STOPPED connector stays stopped
    _settle(lambda: rest.status(name).stopped, f"{name} STOPPED")
    stored = store.stored(spec)
    own = mirror_offsets(rest.offsets(name))
    wanted = {**dict.fromkeys(own), **stored}  # None: reset
    if wanted:
        rest.alter_offsets(name, [_entry(spec, tp, n) for tp, n in sorted(wanted.items())])
    _settle(lambda: mirror_offsets(rest.offsets(name)) == stored, f"{name} offsets as stored")
    store.known(spec, stored)
    rest.resume(name)


def _entry(spec: FlowSpec, tp: TP, offset: int | None) -> dict:
    part = {"cluster": spec.source_alias, "topic": tp[0], "partition": tp[1]}
    return {"partition": part, "offset": None if offset is None else {"offset": offset}}


def _settle(done, what: str) -> None:
    deadline = time.monotonic() + SETTLE
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not after {SETTLE:.0f}s")
        time.sleep(0.1)


def remove(
    connect: ConnectReplicator,
    name: str,
    spec: FlowSpec | None = None,
    store: OffsetsMirror | None = None,
) -> str | None:
    """No connectors for the flow (disabled, deleted, or its aliases name no cluster). With
    `spec` and `store`: its source connector stopped first, its last offsets committed to the
    store, as MM2 commits when its tasks stop."""
    nowhere = {"bootstrap.servers": ""}
    every = FlowSpec(name, nowhere, nowhere, [], emit_heartbeats=True)  # names all three
    try:
        source = f"{name}-source"
        stops = spec is not None and store is not None
        if stops and connect.rest.status(source).state != "MISSING":
            connect.rest.stop(source)
            _settle(lambda: connect.rest.status(source).stopped, f"{source} STOPPED")
            store.copy(connect, spec)
        connect.delete(every)
    except (*FAILURES, TimeoutError) as exc:
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
MM2_OFFSETS_PARTITIONS = 25  # as Aiven lists it


class OffsetsMirror:
    """Where Aiven's MM2 keeps its committed source offsets: on the target, in
    `mm2-offsets.<source alias>.internal`, keyed by connector `MirrorSourceConnector` (MM2's
    dedicated mode, as Aiven's docs describe it). The stand-in's connectors commit to their
    Connect worker's own offsets topic under their names: `copy` writes what changed there
    into that topic as the worker would (Connect's key bytes, Java's partitioner), `stored`
    reads it as the worker does when the flow starts. `ignored`: keys found there that Connect
    would not match (other bytes for a partition of the flow's source alias)."""

    CONNECTOR = "MirrorSourceConnector"

    def __init__(self) -> None:
        self._sent: dict[tuple[str, str, str, int], int] = {}
        self._producers: dict[str, Producer] = {}
        self._topics: set[tuple[str, str]] = set()
        self._lock = threading.RLock()
        self.ignored: list[bytes] = []

    def copy(self, connect: ConnectReplicator, spec: FlowSpec) -> int:
        """Copy the flow's new committed offsets; how many were written. Read and written
        under one lock: a copy read before a flow stopped never lands after its last one."""
        with self._lock:
            try:
                offsets = connect.replicated_offsets(spec)
            except ReplicatorError:  # connectors not there yet, or the worker restarting
                return 0
            return self._write(spec, offsets)

    def known(self, spec: FlowSpec, offsets: dict[TP, int]) -> None:
        """What the store holds for the flow now (read when it started): nothing to copy."""
        with self._lock:
            where, alias = spec.target["bootstrap.servers"], spec.source_alias
            for tp, offset in offsets.items():
                self._sent[(where, alias, *tp)] = offset

    def stored(self, spec: FlowSpec) -> dict[TP, int]:
        """The flow's positions as Connect reads its offsets topic: the last record of each
        key (by its exact bytes, every partition read); a tombstone removes the entry."""
        alias = spec.source_alias
        latest: dict[bytes, bytes | None] = {}
        target = cluster(f"{alias}-offsets", spec.target)

        def keep(msg) -> None:
            latest[msg.key() or b""] = msg.value()

        scan_topic(target, MM2_OFFSETS.format(source=alias), keep)
        found: dict[TP, int] = {}
        for key, value in latest.items():
            try:
                name, part = json.loads(key)
                tp = (part["topic"], part["partition"])
            except (ValueError, TypeError, KeyError):
                continue
            if name != self.CONNECTOR or part.get("cluster") != alias:
                continue
            if key != offset_key(self.CONNECTOR, alias, tp):
                with self._lock:
                    self.ignored.append(key)
                continue
            if value is not None:
                found[tp] = int(json.loads(value)["offset"])
            else:
                found.pop(tp, None)
        return found

    def _write(self, spec: FlowSpec, offsets: dict[TP, int]) -> int:
        where = spec.target["bootstrap.servers"]
        alias = spec.source_alias
        changed = {tp: o for tp, o in offsets.items() if self._sent.get((where, alias, *tp)) != o}
        if not changed:
            return 0
        topic = MM2_OFFSETS.format(source=alias)
        if where not in self._producers:
            self._producers[where] = Producer(
                {**spec.target, "partitioner": JAVA_PARTITIONER, "log_level": 3}
            )
        if (where, topic) not in self._topics:
            target = cluster(f"{alias}-offsets", spec.target)
            new = NewTopic(topic, MM2_OFFSETS_PARTITIONS, -1, config={"cleanup.policy": "compact"})
            try:
                gather(
                    target.admin.create_topics([new], request_timeout=TIMEOUT), f"create {topic}"
                )
            except KafkaOpError as exc:
                if "exist" not in str(exc).lower():
                    raise
            self._topics.add((where, topic))
        producer = self._producers[where]
        for tp, offset in sorted(changed.items()):
            key, value = offset_record(self.CONNECTOR, alias, tp, offset)
            producer.produce(topic, key=key, value=value)
        if producer.flush(10) != 0:
            return 0
        for tp, offset in changed.items():
            self._sent[(where, alias, *tp)] = offset
        return len(changed)

    def close(self) -> None:
        with self._lock:
            for producer in self._producers.values():
                producer.flush(5)
            self._producers.clear()
