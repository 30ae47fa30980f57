"""MirrorMaker 2 as an Aiven for Apache Kafka MirrorMaker 2 service, through the Aiven API.

Per migration, in order (each step reads first and writes only what differs, so a re-run or a
restarted bot reuses what exists):
1. each cluster joins the MM2 service: an Aiven Kafka service directly, any other cluster
   through an `external_kafka` integration endpoint (its connection settings, CA as PEM);
2. one `kafka_mirrormaker` integration per cluster (cluster -> MM2 service) with its
   `cluster_alias`, waited for until `running` (its `errors` shown as Aiven gives them);
3. the MM2 service's user_config: consumer groups and checkpoints (per service, not per flow);
4. the replication flow between the two ALIASES, created or updated, then read back.
Writes to one MM2 service hold its lock (bot.replicators.aiven_api.service_lock).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from typing import Any

from confluent_kafka import KafkaException

from bot.errors import UserError
from bot.kafka.cluster import TP, Cluster
from bot.reasons import reason
from bot.replicators.aiven_api import AivenApi, Conflict, NotFound, service_lock
from bot.replicators.aiven_cluster import service_of
from bot.replicators.aiven_flow import (
    endpoint_config,
    endpoint_name,
    flow_body,
    flow_differences,
    mm2_user_config,
)
from bot.replicators.base import FlowSpec, ReplicatorError, ReplicatorStatus
from bot.replicators.offsets import offsets_topic_offsets

MM2 = "kafka_mirrormaker"
POLL = 3.0  # seconds between looks at an integration or a service that is starting


def integration_state(integration: Mapping[str, Any]) -> tuple[str, list[str], str | None]:
    """(status, errors, likely_error_cause) of an integration as Aiven reports it."""
    state = (integration.get("integration_status") or {}).get("state") or {}
    cause = state.get("likely_error_cause")
    return (
        str(state.get("status") or "unknown"),
        [str(e) for e in state.get("errors") or []],
        None if cause in (None, "null") else str(cause),
    )


class AivenReplicator:
    def __init__(
        self,
        api: AivenApi,
        project: str,
        service: str,
        *,
        create_service: bool = False,
        plan: str | None = None,
        cloud: str | None = None,
        service_wait_s: float = 1200.0,
        integration_wait_s: float = 60.0,
        offsets_topic: str = "mm2-offsets.{source}.internal",
        offsets_connector: str = "MirrorSourceConnector",
    ):
        self.api = api
        self.project = project
        self.service = service
        self.create_service = create_service
        self.plan = plan
        self.cloud = cloud
        self.service_wait_s = service_wait_s
        self.integration_wait_s = integration_wait_s
        self.offsets_topic = offsets_topic
        self.offsets_connector = offsets_connector
        self.sleep = time.sleep
        self._clusters: dict[str, Cluster] = {}
        self._fresh: set[str] = set()  # aliases whose integration or endpoint this run changed

    def __repr__(self) -> str:
        return f"AivenReplicator({self.project}/{self.service} at {self.api.url})"

    @property
    def where(self) -> str:
        return f"MM2 service {self.project}/{self.service}"

    def _lock(self):
        return service_lock(self.api.url, self.project, self.service)

    # -- the MM2 service ---------------------------------------------------------------

    def check(self) -> None:
        self.api.call(f"read project {self.project}", "get_project", self.project)
        self.mm2_service()

    def mm2_service(self) -> dict[str, Any] | None:
        """The MM2 service, or None when it does not exist and the bot may create it."""
        try:
            svc = self.api.call(f"read {self.where}", "get_service", self.project, self.service)
        except NotFound:
            if self.create_service:
                return None
            raise ReplicatorError(
                f"{self.where} does not exist (404), and the configuration does not let the "
                "bot create it (create_service = true, with plan and cloud)"
            ) from None
        if svc.get("service_type") != MM2:
            raise ReplicatorError(f"{self.where} is a {svc.get('service_type')} service, not {MM2}")
        return svc

    def preflight_findings(self, flow: FlowSpec, *, schemas: bool = False) -> list:
        """Preflight's findings on Aiven, one a line (bot.replicators.aiven_preflight)."""
        from bot.replicators.aiven_preflight import preflight

        return preflight(self, flow, schemas=schemas)

    def prepare(self, progress=None, *, wait: bool = True) -> dict[str, Any]:
        """The MM2 service RUNNING: created first when missing and allowed; waited for with
        `progress(text)` calls, for at most `service_wait_s` (wait=False: the service as it
        is now, for a step that polls instead of blocking)."""
        svc = self.mm2_service()
        if svc is None:
            # a Conflict: created meanwhile, waited for like ours
            with self._lock(), contextlib.suppress(Conflict):
                self.api.call(
                    f"create {self.where} (plan {self.plan}, cloud {self.cloud or 'default'})",
                    "create_service",
                    self.project,
                    self.service,
                    MM2,
                    self.plan,
                    cloud=self.cloud,
                )
            if progress:
                progress(f"{self.where} created (plan {self.plan}); waiting until RUNNING")
        if not wait:
            return self.api.call(f"read {self.where}", "get_service", self.project, self.service)
        return self.wait_running(progress)

    def wait_running(self, progress=None) -> dict[str, Any]:
        deadline = time.monotonic() + self.service_wait_s
        last = None
        while True:
            svc = self.api.call(f"read {self.where}", "get_service", self.project, self.service)
            state = svc.get("state")
            if state == "RUNNING":
                return svc
            if progress and state != last:
                progress(f"{self.where} is {state}")
            last = state
            if time.monotonic() > deadline:
                raise ReplicatorError(
                    f"{self.where} is {state}, not RUNNING, after {self.service_wait_s:.0f}s",
                    retriable=True,
                )
            self.sleep(POLL)

    # -- clusters and integrations -----------------------------------------------------

    def _source_of(self, conf: Mapping[str, Any], alias: str) -> dict[str, str]:
        """How the cluster joins: {"source_service": name} or {"source_endpoint_id": id}."""
        svc = service_of(conf)
        if svc is not None:
            if svc.project != self.project:
                raise ReplicatorError(
                    f"cluster {alias!r} is Aiven service {svc}, in another project than "
                    f"{self.where}: give it as an external cluster (bootstrap_servers) instead"
                )
            return {"source_service": svc.service}
        return {"source_endpoint_id": self._endpoint(conf, alias)}

    def _endpoint(self, conf: Mapping[str, Any], alias: str) -> str:
        """Upsert the external_kafka endpoint of a non-Aiven cluster; its id."""
        wanted, name = endpoint_config(conf), endpoint_name(alias)
        what = f"integration endpoint {name!r} in project {self.project}"
        for attempt in (1, 2):
            found = [
                e
                for e in self.api.call(
                    f"list the integration endpoints of project {self.project}",
                    "get_service_integration_endpoints",
                    self.project,
                )
                if e.get("endpoint_name") == name
            ]
            if found:
                endpoint = found[0]
                if endpoint.get("endpoint_type") != "external_kafka":
                    raise ReplicatorError(
                        f"{what} exists as {endpoint.get('endpoint_type')}, not external_kafka"
                    )
                full = self.api.call(
                    f"read {what}",
                    "get_service_integration_endpoint",
                    project=self.project,
                    endpoint_id=endpoint["endpoint_id"],
                    include_secrets=True,
                )
                if (full.get("user_config") or {}) != wanted:  # compared, never shown
                    self._fresh.add(alias)
                    self.api.call(
                        f"update {what}",
                        "update_service_integration_endpoint",
                        self.project,
                        endpoint["endpoint_id"],
                        wanted,
                    )
                return endpoint["endpoint_id"]
            try:
                created = self.api.call(
                    f"create {what}",
                    "create_service_integration_endpoint",
                    self.project,
                    name,
                    "external_kafka",
                    wanted,
                )
                self._fresh.add(alias)
                return created["service_integration_endpoint"]["endpoint_id"]
            except Conflict:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _integrations(self) -> list[dict[str, Any]]:
        return [
            i
            for i in self.api.call(
                f"list the integrations of {self.where}",
                "get_service_integrations",
                self.project,
                self.service,
            )
            if i.get("integration_type") == MM2 and i.get("dest_service") == self.service
        ]

    @staticmethod
    def _alias_of(integration: Mapping[str, Any]) -> str | None:
        return (integration.get("user_config") or {}).get("cluster_alias")

    @staticmethod
    def _joins(integration: Mapping[str, Any], source: Mapping[str, str]) -> bool:
        key, value = next(iter(source.items()))
        return integration.get(key) == value

    def _integration(self, source: Mapping[str, str], alias: str) -> None:
        """Upsert the kafka_mirrormaker integration cluster -> MM2 service under `alias`."""
        joined = next(iter(source.values()))
        for attempt in (1, 2):
            existing = self._integrations()
            for i in existing:
                if self._alias_of(i) == alias:
                    if self._joins(i, source):
                        return
                    raise ReplicatorError(
                        f"{self.where}: cluster alias {alias!r} already belongs to "
                        f"{i.get('source_service') or i.get('source_endpoint_id')}, not "
                        f"{joined}: choose other aliases for this replicator, or remove that "
                        "integration"
                    )
            for i in existing:
                if self._joins(i, source):
                    raise ReplicatorError(
                        f"{self.where}: {joined} is integrated already, under the alias "
                        f"{self._alias_of(i)!r}, not {alias!r}: set the replicator's alias to "
                        "it, or remove that integration"
                    )
            try:
                self.api.call(
                    f"integrate {joined} with {self.where} as {alias!r}",
                    "create_service_integration",
                    self.project,
                    MM2,
                    dest_service=self.service,
                    user_config={"cluster_alias": alias},
                    **source,
                )
                self._fresh.add(alias)
                return
            except Conflict:
                if attempt == 2:
                    raise

    def wait_integrations(self, aliases: list[str]) -> None:
        """Until both integrations run. A failed one raises with Aiven's errors at once, or at
        the deadline when it was just created or its endpoint just changed (the old state may
        still show)."""
        deadline = time.monotonic() + self.integration_wait_s
        while True:
            states: dict[str, tuple[str, list[str], str | None]] = {}
            for i in self._integrations():
                if self._alias_of(i) in aliases:
                    states[self._alias_of(i)] = integration_state(i)
            late = time.monotonic() > deadline
            for alias, (status, errors, cause) in sorted(states.items()):
                if status == "failed" and (late or alias not in self._fresh):
                    raise ReplicatorError(
                        f"{self.where}: integration of cluster {alias!r} failed: "
                        + ("; ".join(errors) or "Aiven gave no error")
                        + (f" (likely cause: {cause})" if cause else "")
                    )
            pending = {a: states[a][0] if a in states else "missing" for a in aliases}
            pending = {a: s for a, s in pending.items() if s not in ("running", "unknown")}
            if not pending:
                return
            if late:
                raise ReplicatorError(
                    f"{self.where}: integrations not running yet: "
                    + ", ".join(f"{a} {s}" for a, s in sorted(pending.items())),
                    retriable=True,
                )
            self.sleep(POLL)

    # -- the service's settings and the flow ---------------------------------------------

    def _service_settings(self, flow: FlowSpec, svc: Mapping[str, Any]) -> None:
        current = dict((svc.get("user_config") or {}).get("kafka_mirrormaker") or {})
        wanted = mm2_user_config(flow)
        if all(current.get(k) == v for k, v in wanted.items()):
            return
        if current.get("groups") not in (None, wanted["groups"]):
            self._refuse_shared_groups(flow)
        # only this section, as `avn service update -c kafka_mirrormaker.groups=...` sends it:
        # Aiven merges a service's user_config, the other settings stay as they are
        self.api.call(
            f"set groups and checkpoints on {self.where}",
            "update_service",
            self.project,
            self.service,
            user_config={"kafka_mirrormaker": {**current, **wanted}},
        )

    def _refuse_shared_groups(self, flow: FlowSpec) -> None:
        """`groups` is one setting per MM2 service: never change it under another flow."""
        others = [
            f"{f.get('source_cluster')}->{f.get('target_cluster')}"
            for f in self.api.call(
                f"list the replication flows of {self.where}",
                "list_mirrormaker_replication_flows",
                self.project,
                self.service,
            )
            if (f.get("source_cluster"), f.get("target_cluster"))
            != (flow.source_alias, flow.target_alias)
        ]
        if others:
            raise ReplicatorError(
                f"{self.where} also runs flow(s) {', '.join(sorted(others))}; its consumer "
                "groups setting is shared by every flow, and this migration needs other groups: "
                "use another MM2 service, or wait until that migration is over"
            )

    def _flow_path(self, flow: FlowSpec) -> tuple[str, str, str, str]:
        return (self.project, self.service, flow.source_alias, flow.target_alias)

    def _flow_name(self, flow: FlowSpec) -> str:
        return f"flow {flow.source_alias}->{flow.target_alias}"

    def read_flow(self, flow: FlowSpec) -> dict[str, Any] | None:
        try:
            return self.api.call(
                f"read the {self._flow_name(flow)} of {self.where}",
                "get_mirrormaker_replication_flow",
                *self._flow_path(flow),
            )
        except NotFound:
            return None

    def write_flow(self, flow: FlowSpec, enabled: bool | None = None) -> None:
        """Create the flow or update what differs (keeping `enabled` unless given); read back."""
        current = self.read_flow(flow)
        if current is None:
            wanted = flow_body(flow, enabled=True if enabled is None else enabled)
            try:
                self.api.call(
                    f"create the {self._flow_name(flow)} on {self.where}",
                    "create_mirrormaker_replication_flow",
                    *self._flow_path(flow),
                    wanted,
                )
            except Conflict:
                current = self.read_flow(flow) or {}
        if current is not None:
            keep = current.get("enabled", True) if enabled is None else enabled
            wanted = flow_body(flow, enabled=bool(keep))
            if flow_differences(wanted, current):
                self.api.call(
                    f"update the {self._flow_name(flow)} on {self.where}",
                    "update_mirrormaker_replication_flow",
                    *self._flow_path(flow),
                    wanted,
                )
        stored = self.read_flow(flow)
        if stored is None:
            raise ReplicatorError(
                f"{self.where}: the {self._flow_name(flow)} is missing right after it was written",
                retriable=True,
            )
        differences = flow_differences(wanted, stored)
        if differences:
            raise ReplicatorError(
                f"{self.where}: the {self._flow_name(flow)} reads back otherwise than written: "
                + "; ".join(differences[:5])
            )

    def parts(self, flow: FlowSpec) -> list[str]:
        return [
            f"integration {flow.source_alias}",
            f"integration {flow.target_alias}",
            self._flow_name(flow),
        ]

    def ensure(self, flow: FlowSpec) -> list[str]:
        try:
            mm2_user_config(flow)  # refuse a group selection Aiven cannot hold before writing
            flow_body(flow)
        except UserError as exc:
            raise ReplicatorError(str(exc)) from None
        svc = self.mm2_service() or self.prepare()
        self._fresh = set()
        with self._lock():
            for conf, alias in ((flow.source, flow.source_alias), (flow.target, flow.target_alias)):
                self._integration(self._source_of(conf, alias), alias)
        self.wait_integrations([flow.source_alias, flow.target_alias])
        with self._lock():
            self._service_settings(flow, svc)
            self.write_flow(flow)
        return self.parts(flow)

    def status(self, flow: FlowSpec) -> ReplicatorStatus:
        parts, errors = {}, []
        try:
            by_alias = {self._alias_of(i): i for i in self._integrations()}
        except NotFound:
            self.mm2_service()  # raises unless the bot may create it
            return ReplicatorStatus(
                False, {**dict.fromkeys(self.parts(flow), "MISSING"), self.where: "TO CREATE"}
            )
        for alias in (flow.source_alias, flow.target_alias):
            integration = by_alias.get(alias)
            name = f"integration {alias}"
            if integration is None:
                parts[name] = "MISSING"
                continue
            status, errs, cause = integration_state(integration)
            parts[name] = status.upper()
            if status == "failed" or errs:
                errors.append(
                    f"{name}: {status}: "
                    + ("; ".join(errs) or "no error given")
                    + (f" (likely cause: {cause})" if cause else "")
                )
        current = self.read_flow(flow)
        name = self._flow_name(flow)
        if current is None:
            parts[name] = "MISSING"
        else:
            state = "RUNNING" if current.get("enabled") else "PAUSED"
            progress = current.get("replication_progress")
            if isinstance(progress, int | float):
                state += f" (Aiven: {progress:.0%} replicated)"
            parts[name] = state
        running = all(
            v.startswith("RUNNING") or (k.startswith("integration") and v == "UNKNOWN")
            for k, v in parts.items()
        )
        return ReplicatorStatus(running, parts, errors)

    def replicated_offsets(self, flow: FlowSpec) -> dict[TP, int]:
        """From MM2's offsets topic on the target (`mm2-offsets.<source alias>.internal`): the
        same figures as with Kafka Connect, read from the clusters themselves."""
        topic = self.offsets_topic.format(source=flow.source_alias, target=flow.target_alias)
        cluster = self._clusters.get(flow.name)
        if cluster is None:
            cluster = self._clusters[flow.name] = Cluster(f"{flow.name}-target", flow.target)
        source = flow.source_alias

        def mine(name: str, part: dict) -> bool:  # the flow's MirrorSourceConnector
            if name == self.offsets_connector:
                return True
            return name.endswith("MirrorSourceConnector") and part.get("cluster") == source

        try:
            return offsets_topic_offsets(cluster, topic, mine)
        except (KafkaException, TimeoutError) as exc:
            raise ReplicatorError(
                f"reading MM2's offsets ({topic}) on the target: {reason(exc)}", retriable=True
            ) from None

    def restart(self, flow: FlowSpec) -> None:
        """Aiven has no restart call: an enabled flow is disabled and enabled again."""
        current = self.read_flow(flow)
        if current is None or not current.get("enabled"):
            return
        with self._lock():
            self.write_flow(flow, enabled=False)
            self.write_flow(flow, enabled=True)

    def pause(self, flow: FlowSpec) -> None:
        with self._lock():
            if self.read_flow(flow) is not None:
                self.write_flow(flow, enabled=False)

    def resume(self, flow: FlowSpec) -> None:
        with self._lock():
            if self.read_flow(flow) is not None:
                self.write_flow(flow, enabled=True)

    def delete(self, flow: FlowSpec) -> None:
        """The flow goes; the integrations and endpoints stay (shared, reused next time)."""
        with self._lock(), contextlib.suppress(NotFound):
            self.api.call(
                f"delete the {self._flow_name(flow)} of {self.where}",
                "delete_mirrormaker_replication_flow",
                *self._flow_path(flow),
            )
