"""The state of one Aiven project in the Aiven API stand-in (rehearsal/standins/aiven_api.py): its
services, integration endpoints, MM2 integrations, replication flows, native ACLs and topics,
and the answer of each API operation, as Aiven gives it (404 naming what is missing, 409 on a
second create). Flows, ACLs and topics act on the sandbox through aiven_kafka.
"""

from __future__ import annotations

import re
import tempfile
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from bot.kafka.cluster import Cluster
from bot.replicators.connect import ConnectReplicator
from standins import aiven_kafka
from standins.aiven_openapi import Refusal

MM2 = "kafka_mirrormaker"
SECRET = re.compile(r"password|secret|token|key|jaas|certificate|_cert$", re.IGNORECASE)
ALIAS = re.compile(r"^[a-zA-Z0-9_.-]+$")
PLACEHOLDER_VPC = "00000000-0000-0000-0000-000000000000"
GROUPS_MAX = 128  # service_types.yml: kafka_mirrormaker.groups / groups_exclude max_length


def redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "***" if SECRET.search(k) else redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Service:
    name: str
    type: str
    plan: str
    cloud: str
    user_config: dict
    ready_at: float
    client: dict | None = None  # librdkafka settings of a hosted Kafka service
    created: str = field(default_factory=_now)

    def state(self) -> str:
        return "RUNNING" if time.monotonic() >= self.ready_at else "REBUILDING"


@dataclass
class Integration:
    id: str
    source_service: str | None
    source_endpoint: str | None
    dest_service: str
    user_config: dict
    ready_at: float
    error: str | None = None
    probed: bool = False


@dataclass
class Flow:
    config: dict  # the flow's fields as last written (no aliases)
    error: str | None = None  # the Connect worker's refusal, if any


class AivenProject:
    def __init__(
        self,
        *,
        project: str,
        kafka_services: dict[str, dict[str, str]],
        connect_url: str,
        connect_workers: Mapping[str, tuple[str, tuple[str, str] | None]] | None = None,
        running_delay: float = 0.5,
        existing: list[str] | None = None,
    ):
        """`kafka_services`: the Kafka services this project can host (name -> librdkafka
        settings of a sandbox cluster); those in `existing` (default: all) exist and run from
        the start, the others appear when created. A flow's MM2 connectors run on the Connect
        worker attached to the flow's target cluster (a MirrorSourceConnector writes into its
        worker's own cluster): `connect_workers` maps a cluster's bootstrap servers to its
        worker's (URL, basic-auth credentials or None); `connect_url`: the worker of any other
        target."""
        self.project = project
        self.kafka_services = kafka_services
        self.running_delay = running_delay
        self.connect = ConnectReplicator(connect_url)
        self._by_url = {connect_url: self.connect}  # one client per worker
        self.workers: dict[str, ConnectReplicator] = {}
        for servers, (url, auth) in (connect_workers or {}).items():
            if url not in self._by_url:
                user, password = auth or (None, None)
                self._by_url[url] = ConnectReplicator(url, username=user, password=password)
            self.workers[_servers(servers)] = self._by_url[url]
        self.offsets = aiven_kafka.OffsetsMirror()
        self.offsets_held = False  # a knob: MM2 commits no new offsets (stuck or slow)
        self.copy_held = False  # a knob (hold_copy): enabled flows copy nothing (MM2 stuck)
        self.services: dict[str, Service] = {}
        self.endpoints: dict[str, dict] = {}  # id -> {endpoint_name, endpoint_type, user_config}
        self.integrations: dict[str, Integration] = {}
        self.flows: dict[tuple[str, str, str], Flow] = {}
        self.acls: dict[str, dict[str, tuple[str, Any]]] = {}  # service -> id -> (json, Acl)
        self._lock = threading.RLock()
        self._files = Path(tempfile.mkdtemp(prefix="aiven-standin-"))
        for name in kafka_services if existing is None else existing:
            self.services[name] = Service(name, "kafka", "sandbox", "local", {}, 0.0)
            self.services[name].client = dict(kafka_services[name])

    def connector_prefix(self, service: str, source: str, target: str) -> str:
        """The MM2 connectors of a flow are named `<this>-source`, `-checkpoint`, `-heartbeat`."""
        return re.sub(r"[^A-Za-z0-9_.-]", "-", f"aiven-{service}-{source}-{target}")

    def worker(self, spec) -> ConnectReplicator:
        """The Connect worker attached to the flow's target: where its connectors run."""
        return self.workers.get(_servers(spec.target["bootstrap.servers"]), self.connect)

    def every_worker(self) -> list[ConnectReplicator]:
        """Each Connect worker a flow may run on, once."""
        return list(self._by_url.values())

    def remove_connectors(self) -> None:
        """Remove the MM2 connectors of every flow (as if its MM2 services were gone)."""
        with self._lock:
            for key in self.flows:
                for worker in self.every_worker():
                    aiven_kafka.remove(worker, self.connector_prefix(*key))

    def mirror_offsets(self) -> int:
        """Copy each running flow's committed source offsets where Aiven's MM2 keeps them
        (aiven_kafka.OffsetsMirror); how many were written."""
        with self._lock:
            specs = [
                spec
                for key, flow in self.flows.items()
                if flow.config.get("enabled") and (spec := self._spec(key)) is not None
            ]
        return sum(self.offsets.copy(self.worker(spec), spec) for spec in specs)

    def route(self, method: str, path: str, query: dict, body: dict) -> tuple[int, Any]:
        parts = [unquote(p) for p in path.removeprefix("/v1/").strip("/").split("/")]
        if parts[:1] != ["project"] or len(parts) < 2:
            raise Refusal(404, f"Not found: {path}")
        if parts[1] != self.project:
            raise Refusal(404, f"Project '{parts[1]}' does not exist")
        rest = parts[2:]
        for pattern, methods in ROUTES:
            if len(pattern) == len(rest) and all(
                p == "*" or p == s for p, s in zip(pattern, rest, strict=True)
            ):
                if method not in methods:
                    break
                args = [s for p, s in zip(pattern, rest, strict=True) if p == "*"]
                return getattr(self, "_" + methods[method])(*args, body=body, query=query)
        raise Refusal(404, f"Not found: {path}")

    # projects and services ------------------------------------------------------------------
    def _project(self, **_):
        return 200, {"project": _project_json(self.project)}

    def _service(self, name: str) -> Service:
        if name not in self.services:
            raise Refusal(404, f"Service '{name}' does not exist")
        return self.services[name]

    def _service_json(self, svc: Service) -> dict:
        answer = {
            "cloud_name": svc.cloud,
            "create_time": svc.created,
            "update_time": svc.created,
            "group_list": [],
            "plan": svc.plan,
            "project_vpc_id": PLACEHOLDER_VPC,
            "service_integrations": [
                self._integration_json(i)
                for i in self.integrations.values()
                if svc.name in (i.source_service, i.dest_service)
            ],
            "service_name": svc.name,
            "service_type": svc.type,
            "service_uri": "",
            "state": svc.state(),
            "termination_protection": False,
            "user_config": svc.user_config,
            "components": [],
            "connection_info": {},
            "service_uri_params": {},
        }
        if svc.client is not None:
            servers = svc.client["bootstrap.servers"]
            host, _, port = servers.split(",")[0].strip().rpartition(":")
            sasl = "sasl" in svc.client.get("security.protocol", "").lower()
            answer |= {
                "service_uri": f"{host}:{port}",
                "service_uri_params": {"host": host, "port": port},
                "connection_info": {"kafka": servers.split(",")},
                "components": [
                    {
                        "component": "kafka",
                        "host": host,
                        "port": int(port),
                        "route": "dynamic",
                        "usage": "primary",
                        "kafka_authentication_method": "sasl" if sasl else "certificate",
                    }
                ],
            }
        return answer

    def _get_service(self, name: str, **_):
        return 200, {"service": self._service_json(self._service(name))}

    def _list_services(self, **_):
        return 200, {"services": [self._service_json(s) for s in self.services.values()]}

    def _create_service(self, body: dict, **_):
        name, kind = body["service_name"], body["service_type"]
        if name in self.services:
            raise Refusal(409, f"Service '{name}' already exists")
        if kind not in ("kafka", MM2):
            raise Refusal(400, f"The stand-in does not run {kind} services")
        if kind == "kafka" and name not in self.kafka_services:
            raise Refusal(400, f"The stand-in has no sandbox cluster for Kafka service '{name}'")
        config = _checked_user_config(kind, body.get("user_config") or {})
        ready = time.monotonic() + self.running_delay
        svc = Service(name, kind, body["plan"], body.get("cloud", "local"), config, ready)
        if kind == "kafka":
            svc.client = dict(self.kafka_services[name])
        self.services[name] = svc
        return 200, {"service": self._service_json(svc)}

    def _update_service(self, name: str, body: dict, **_):
        svc = self._service(name)
        if "user_config" in body:
            svc.user_config = {**svc.user_config, **body["user_config"]}
            svc.user_config = _checked_user_config(svc.type, svc.user_config)
            svc.ready_at = time.monotonic() + self.running_delay
        if "plan" in body:
            svc.plan = body["plan"]
        if svc.type == MM2:
            self._apply_flows(name)
        return 200, {"service": self._service_json(svc)}

    def _delete_service(self, name: str, **_):
        self._service(name)
        for key in [k for k in self.flows if k[0] == name]:
            self.flows[key].config["enabled"] = False
            self._apply(key)
            del self.flows[key]
        for integration in list(self.integrations.values()):
            if name in (integration.source_service, integration.dest_service):
                del self.integrations[integration.id]
                self._apply_flows(integration.dest_service)
        del self.services[name]
        return 200, {"message": "deleted"}

    # integration endpoints ------------------------------------------------------------------
    def _endpoint(self, endpoint_id: str) -> dict:
        if endpoint_id not in self.endpoints:
            raise Refusal(404, f"Service integration endpoint '{endpoint_id}' does not exist")
        return self.endpoints[endpoint_id]

    def _endpoint_json(self, endpoint_id: str, secrets: bool = False) -> dict:
        endpoint = self.endpoints[endpoint_id]
        config = endpoint["user_config"] if secrets else redact(endpoint["user_config"])
        return {
            "endpoint_id": endpoint_id,
            "endpoint_name": endpoint["endpoint_name"],
            "endpoint_type": endpoint["endpoint_type"],
            "user_config": config,
            "endpoint_config": config,
        }

    def _create_endpoint(self, body: dict, **_):
        if any(e["endpoint_name"] == body["endpoint_name"] for e in self.endpoints.values()):
            raise Refusal(409, f"Endpoint '{body['endpoint_name']}' already exists")
        _check_external_kafka(body)
        endpoint_id = str(uuid.uuid4())
        self.endpoints[endpoint_id] = {k: body[k] for k in ("endpoint_name", "endpoint_type")}
        self.endpoints[endpoint_id]["user_config"] = body["user_config"]
        return 200, {"service_integration_endpoint": self._endpoint_json(endpoint_id)}

    def _list_endpoints(self, **_):
        endpoints = [self._endpoint_json(i) for i in self.endpoints]
        return 200, {"service_integration_endpoints": endpoints}

    def _get_endpoint(self, endpoint_id: str, query: dict, **_):
        self._endpoint(endpoint_id)
        secrets = query.get("include_secrets") == "true"
        return 200, {"service_integration_endpoint": self._endpoint_json(endpoint_id, secrets)}

    def _update_endpoint(self, endpoint_id: str, body: dict, **_):
        endpoint = self._endpoint(endpoint_id)
        merged = {**endpoint["user_config"], **body["user_config"]}
        _check_external_kafka({**endpoint, "user_config": merged})
        endpoint["user_config"] = merged
        for integration in self.integrations.values():
            if integration.source_endpoint == endpoint_id:
                self._probe(integration)
                self._apply_flows(integration.dest_service)
        return 200, {"service_integration_endpoint": self._endpoint_json(endpoint_id)}

    def _delete_endpoint(self, endpoint_id: str, **_):
        self._endpoint(endpoint_id)
        if any(i.source_endpoint == endpoint_id for i in self.integrations.values()):
            raise Refusal(409, f"Endpoint '{endpoint_id}' is used by an integration")
        del self.endpoints[endpoint_id]
        return 200, {"message": "deleted"}

    # service integrations ---------------------------------------------------------------------
    def _integration(self, integration_id: str) -> Integration:
        if integration_id not in self.integrations:
            raise Refusal(404, f"Service integration '{integration_id}' does not exist")
        return self.integrations[integration_id]

    def _source_client(self, integration: Integration) -> dict:
        if integration.source_endpoint is not None:
            config = self.endpoints[integration.source_endpoint]["user_config"]
            return aiven_kafka.endpoint_client_config(config, self._files)
        return dict(self.services[integration.source_service].client or {})

    def _probe(self, integration: Integration) -> None:
        integration.probed, integration.error = False, None
        client = self._source_client(integration)

        def run() -> None:
            error = aiven_kafka.probe(client)
            with self._lock:
                integration.error, integration.probed = error, True

        threading.Thread(target=run, daemon=True).start()

    def _integration_json(self, i: Integration) -> dict:
        status, cause = "starting", "null"
        if i.probed and time.monotonic() >= i.ready_at:
            status, cause = ("failed", "source") if i.error else ("running", "null")
        dest = self.services.get(i.dest_service)
        answer = {
            "service_integration_id": i.id,
            "integration_type": MM2,
            "active": True,
            "enabled": True,
            "description": "Kafka MirrorMaker 2 cluster",
            "source_project": self.project,
            "dest_project": self.project,
            "dest_service": i.dest_service,
            "dest_service_type": dest.type if dest else MM2,
            "user_config": i.user_config,
            "integration_status": {
                "state": {
                    "status": status,
                    "errors": [i.error] if status == "failed" and i.error else [],
                    "likely_error_cause": cause,
                    "nodes": {},
                },
                "status_user_desc": {"starting": "Starting", "running": "Running"}.get(
                    status, f"Failed: {i.error}"
                ),
            },
        }
        if i.source_endpoint is not None:
            endpoint = self.endpoints.get(i.source_endpoint, {})
            return answer | {
                "source_endpoint_id": i.source_endpoint,
                "source_endpoint": endpoint.get("endpoint_name", ""),
                "source_service": endpoint.get("endpoint_name", ""),
                "source_service_type": "external_kafka",
            }
        return answer | {"source_service": i.source_service, "source_service_type": "kafka"}

    def _create_integration(self, body: dict, **_):
        if body["integration_type"] != MM2:
            raise Refusal(400, f"The stand-in does not run {body['integration_type']} integrations")
        source, endpoint = body.get("source_service"), body.get("source_endpoint_id")
        if (source is None) == (endpoint is None):
            raise Refusal(400, "Give one of source_service and source_endpoint_id")
        if source is not None and self._service(source).type != "kafka":
            raise Refusal(400, f"Service '{source}' is not a Kafka service")
        if endpoint is not None:
            self._endpoint(endpoint)
        dest = body.get("dest_service")
        if dest is None or self._service(dest).type != MM2:
            raise Refusal(400, "dest_service must be a kafka_mirrormaker service")
        config = body.get("user_config") or {}
        alias = config.get("cluster_alias")
        if not isinstance(alias, str) or not ALIAS.match(alias) or len(alias) > 128:
            raise Refusal(400, "Invalid input for user_config.cluster_alias")
        for other in self.integrations.values():
            if other.dest_service == dest and (other.source_service, other.source_endpoint) == (
                source,
                endpoint,
            ):
                raise Refusal(409, f"Integration {MM2} to '{dest}' from that source exists")
            if other.dest_service == dest and other.user_config.get("cluster_alias") == alias:
                raise Refusal(409, f"Cluster alias '{alias}' is already used in '{dest}'")
        integration = Integration(
            str(uuid.uuid4()), source, endpoint, dest, config, time.monotonic() + self.running_delay
        )
        self.integrations[integration.id] = integration
        self._probe(integration)
        self._apply_flows(dest)
        return 200, {"service_integration": self._integration_json(integration)}

    def _get_integration(self, integration_id: str, **_):
        integration = self._integration(integration_id)
        return 200, {"service_integration": self._integration_json(integration)}

    def _update_integration(self, integration_id: str, body: dict, **_):
        integration = self._integration(integration_id)
        integration.user_config = {**integration.user_config, **body["user_config"]}
        self._apply_flows(integration.dest_service)
        return 200, {"service_integration": self._integration_json(integration)}

    def _delete_integration(self, integration_id: str, **_):
        integration = self._integration(integration_id)
        del self.integrations[integration_id]
        self._apply_flows(integration.dest_service)
        return 200, {"message": "deleted"}

    def _service_integrations(self, name: str, **_):
        self._service(name)
        found = [
            self._integration_json(i)
            for i in self.integrations.values()
            if name in (i.source_service, i.dest_service)
        ]
        return 200, {"service_integrations": found}

    # replication flows ------------------------------------------------------------------------
    def _mm2(self, name: str) -> Service:
        svc = self._service(name)
        if svc.type != MM2:
            raise Refusal(400, f"Service '{name}' is not a kafka_mirrormaker service")
        return svc

    def _flow(self, name: str, source: str, target: str) -> Flow:
        self._mm2(name)
        if (name, source, target) not in self.flows:
            raise Refusal(404, f"Replication flow {source}->{target} not found in '{name}'")
        return self.flows[(name, source, target)]

    def _client_of(self, service: str, alias: str) -> dict | None:
        for integration in self.integrations.values():
            if (integration.dest_service, integration.user_config.get("cluster_alias")) == (
                service,
                alias,
            ):
                return self._source_client(integration)
        return None

    def _spec(self, key: tuple[str, str, str]):
        service, source, target = key
        clients = (self._client_of(service, source), self._client_of(service, target))
        if None in clients:
            return None  # aliases that name no cluster: nothing replicates, as on Aiven
        mm2_config = self.services[service].user_config.get(MM2) or {}
        name = self.connector_prefix(*key)
        flow = self.flows[key].config
        return aiven_kafka.flow_spec(name, (source, target), clients, flow, mm2_config)

    def _apply(self, key: tuple[str, str, str]) -> None:
        """An enabled flow's connectors on its target's worker, started from the positions
        stored on its target; a disabled one's removed, its last positions stored first
        (unless offsets are held). Connectors left on another worker (a flow whose target
        changed) are removed."""
        flow, spec, name = self.flows[key], self._spec(key), self.connector_prefix(*key)
        home = self.worker(spec) if spec is not None else None
        store = None if self.offsets_held else self.offsets
        errors = []
        for worker in self.every_worker():
            if worker is home and flow.config.get("enabled") and not self.copy_held:
                errors.append(aiven_kafka.deploy(worker, spec, self.offsets))
            elif worker is home:
                errors.append(aiven_kafka.remove(worker, name, spec, store))
            else:
                errors.append(aiven_kafka.remove(worker, name))
        flow.error = next((e for e in errors if e), None)

    def hold_copy(self, held: bool) -> None:
        """A knob: an MM2 stuck (its flows say enabled, nothing is copied) or going again."""
        self.copy_held = held
        for key in list(self.flows):
            self._apply(key)

    def _apply_flows(self, service: str) -> None:
        for key in [k for k in self.flows if k[0] == service]:
            self._apply(key)

    def _flow_json(self, key: tuple[str, str, str]) -> dict:
        flow = self.flows[key]
        spec = self._spec(key) if flow.config.get("enabled") else None
        done = aiven_kafka.progress(self.worker(spec), spec) if spec is not None else 0.0
        return {
            **flow.config,
            "source_cluster": key[1],
            "target_cluster": key[2],
            "replication_progress": done,
        }

    def _create_flow(self, name: str, body: dict, **_):
        self._mm2(name)
        key = (name, body["source_cluster"], body["target_cluster"])
        if key in self.flows:
            raise Refusal(409, f"Replication flow {key[1]}->{key[2]} already exists in '{name}'")
        config = {k: v for k, v in body.items() if k not in ("source_cluster", "target_cluster")}
        self.flows[key] = Flow(config)
        self._apply(key)
        return 200, {"message": "created"}

    def _list_flows(self, name: str, **_):
        self._mm2(name)
        flows = [
            {**self.flows[k].config, "source_cluster": k[1], "target_cluster": k[2]}
            for k in self.flows
            if k[0] == name
        ]
        return 200, {"replication_flows": flows}

    def _get_flow(self, name: str, source: str, target: str, **_):
        self._flow(name, source, target)
        return 200, {"replication_flow": self._flow_json((name, source, target))}

    def _update_flow(self, name: str, source: str, target: str, body: dict, **_):
        flow = self._flow(name, source, target)
        flow.config = {**flow.config, **body}
        self._apply((name, source, target))
        return 200, {"replication_flow": self._flow_json((name, source, target))}

    def _delete_flow(self, name: str, source: str, target: str, **_):
        flow = self._flow(name, source, target)
        flow.config["enabled"] = False
        self._apply((name, source, target))
        del self.flows[(name, source, target)]
        return 200, {"message": "deleted"}

    # Kafka-native ACLs and topics ---------------------------------------------------------------
    def _kafka(self, name: str) -> Cluster:
        svc = self._service(name)
        if svc.client is None:
            raise Refusal(400, f"Service '{name}' is not a Kafka service")
        return aiven_kafka.cluster(name, svc.client)

    def _add_acl(self, name: str, body: dict, **_):
        cluster = self._kafka(name)
        if not body["principal"].startswith("User:"):
            raise Refusal(400, "Invalid principal: only User: principals are supported")
        acl = aiven_kafka.native_acl(body)
        acls = self.acls.setdefault(name, {})
        if any(existing == acl for _, existing in acls.values()):
            raise Refusal(409, "The ACL entry already exists")
        aiven_kafka.add_acl(cluster, acl)
        acl_id = "acl" + uuid.uuid4().hex[:12]
        acls[acl_id] = ({**body, "host": body.get("host") or "*", "id": acl_id}, acl)
        return 200, {"acl": acls[acl_id][0], "message": "added"}

    def _list_acls(self, name: str, **_):
        self._kafka(name)
        return 200, {"acl": [], "kafka_acl": [j for j, _ in self.acls.get(name, {}).values()]}

    def _get_acl(self, name: str, acl_id: str, **_):
        self._kafka(name)
        if acl_id not in self.acls.get(name, {}):
            raise Refusal(404, f"ACL '{acl_id}' not found in '{name}'")
        return 200, {"acl": self.acls[name][acl_id][0]}

    def _delete_acl(self, name: str, acl_id: str, **_):
        cluster = self._kafka(name)
        if acl_id not in self.acls.get(name, {}):
            raise Refusal(404, f"ACL '{acl_id}' not found in '{name}'")
        aiven_kafka.delete_acl(cluster, self.acls[name].pop(acl_id)[1])
        return 200, {"message": "deleted"}

    def _create_topic(self, name: str, body: dict, **_):
        cluster = self._kafka(name)
        if aiven_kafka.describe_topic(cluster, body["topic_name"]) is not None:
            raise Refusal(409, f"Topic '{body['topic_name']}' already exists")
        aiven_kafka.create_topic(cluster, body)
        return 200, {"message": "created"}

    def _get_topic(self, name: str, topic: str, **_):
        found = aiven_kafka.describe_topic(self._kafka(name), topic)
        if found is None:
            raise Refusal(404, f"Topic '{topic}' does not exist")
        answer = {
            "cleanup_policy": "delete",
            "config": {},
            "min_insync_replicas": 1,
            "owner_user_group_id": "ug-sandbox",
            "retention_bytes": -1,
            "retention_hours": -1,
            "state": "ACTIVE",
            "tags": [],
            "topic_description": "a topic of the sandbox",
            **found,
        }
        return 200, {"topic": answer}


ROUTES: list[tuple[tuple[str, ...], dict[str, str]]] = [
    ((), {"GET": "project"}),
    (("service",), {"GET": "list_services", "POST": "create_service"}),
    (("service", "*"), {"GET": "get_service", "PUT": "update_service", "DELETE": "delete_service"}),
    (("service", "*", "integration"), {"GET": "service_integrations"}),
    (("integration",), {"POST": "create_integration"}),
    (
        ("integration", "*"),
        {"GET": "get_integration", "PUT": "update_integration", "DELETE": "delete_integration"},
    ),
    (("integration_endpoint",), {"GET": "list_endpoints", "POST": "create_endpoint"}),
    (
        ("integration_endpoint", "*"),
        {"GET": "get_endpoint", "PUT": "update_endpoint", "DELETE": "delete_endpoint"},
    ),
    (
        ("service", "*", "mirrormaker", "replication-flows"),
        {"GET": "list_flows", "POST": "create_flow"},
    ),
    (
        ("service", "*", "mirrormaker", "replication-flows", "*", "*"),
        {"GET": "get_flow", "PUT": "update_flow", "DELETE": "delete_flow"},
    ),
    (("service", "*", "kafka", "acl"), {"GET": "list_acls", "POST": "add_acl"}),
    (("service", "*", "kafka", "acl", "*"), {"GET": "get_acl", "DELETE": "delete_acl"}),
    (("service", "*", "topic"), {"POST": "create_topic"}),
    (("service", "*", "topic", "*"), {"GET": "get_topic"}),
]


def _servers(bootstrap: str) -> str:
    """Bootstrap servers compared as a set (order and spaces aside)."""
    return ",".join(sorted(s.strip() for s in bootstrap.split(",") if s.strip()))


def _project_json(name: str) -> dict:
    return {
        "project_name": name,
        "account_id": "a1b2c3d4e5f6",
        "organization_id": "org1b2c3d4e5f6",
        "billing_address": "",
        "billing_emails": [],
        "billing_group_id": "00000000-0000-0000-0000-000000000001",
        "billing_group_name": "sandbox",
        "country": "",
        "country_code": "",
        "default_cloud": "local",
        "estimated_balance": "0.00",
        "payment_method": "no_payment_expected",
        "vat_id": "",
    }


def _checked_user_config(kind: str, config: dict) -> dict:
    """Aiven's service_types limits the stand-in keeps: MM2 groups/groups_exclude lengths."""
    for key in ("groups", "groups_exclude"):
        value = (config.get(MM2) or {}).get(key) if kind == MM2 else None
        if value is not None and (not isinstance(value, str) or len(value) > GROUPS_MAX):
            raise Refusal(
                400,
                f"Invalid input for user_config.{MM2}.{key}: string longer than "
                f"{GROUPS_MAX} characters",
            )
    return config


def _check_external_kafka(body: dict) -> None:
    if body["endpoint_type"] != "external_kafka":
        raise Refusal(400, f"The stand-in does not run {body['endpoint_type']} endpoints")
    config = body["user_config"]
    for key in ("bootstrap_servers", "security_protocol"):
        if not isinstance(config.get(key), str) or not config[key]:
            raise Refusal(400, f"Missing required field in user_config: {key}")
    protocols = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
    if config["security_protocol"] not in protocols:
        raise Refusal(
            400, f"Invalid input for user_config.security_protocol: not one of {protocols}"
        )
    mechanism = config.get("sasl_mechanism")
    if mechanism is not None and mechanism not in ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"):
        raise Refusal(400, "Invalid input for user_config.sasl_mechanism")
