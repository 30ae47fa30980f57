"""MirrorMaker 2 as an Aiven for Apache Kafka MirrorMaker 2 service, through the Aiven API.

Per migration, in order (each step reads first and writes only what differs, so a re-run or a
restarted bot reuses what exists):
1. each cluster joins the MM2 service (bot.replicators.aiven_links): an Aiven Kafka service,
   or any other cluster through an `external_kafka` endpoint (connection settings, CA as PEM);
2. one `kafka_mirrormaker` integration per cluster (cluster -> MM2 service) with its
   `cluster_alias`, waited for until `running` (its `errors` shown as Aiven gives them);
3. the MM2 service's user_config: consumer groups and checkpoints (per service, not per flow);
4. the replication flow between the two ALIASES, created or updated, then read back.
Writes to one MM2 service hold its lock (bot.aiven.api.service_lock).

`start_from` (a reverse flow, from the cutover's end offsets on): steps 1-2, the flow created
DISABLED, its start positions written to MM2's offsets topic on the flow's target and read back
(bot.replicators.aiven_start: the Aiven API cannot set them), then the flow enabled.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Mapping
from typing import Any

from confluent_kafka import KafkaError, KafkaException

from bot.aiven.api import AivenApi, Conflict, NotFound, service_lock
from bot.errors import UserError
from bot.kafka.cluster import TP, Cluster
from bot.reasons import reason
from bot.replicators.aiven_flow import (
    flow_body,
    flow_differences,
    mm2_user_config,
)
from bot.replicators.aiven_links import MM2, POLL, Links, alias_of, integration_state
from bot.replicators.aiven_preflight import preflight
from bot.replicators.aiven_start import StartStore, past_starts, positions
from bot.replicators.base import Finding, FlowSpec, Replicator, ReplicatorError, ReplicatorStatus
from bot.replicators.offsets import ReplicatedOffsets, offsets_topic_offsets

# MM2's offsets topic cannot be read at all: a degraded signal (progress by content), not a fault
UNREADABLE = (
    KafkaError.TOPIC_AUTHORIZATION_FAILED,
    KafkaError.UNKNOWN_TOPIC_OR_PART,
    KafkaError._UNKNOWN_TOPIC,
)


class AivenReplicator(Replicator):
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
        self.offsets_topic = offsets_topic
        self.offsets_connector = offsets_connector
        self.sleep = time.sleep
        self._clusters: dict[str, Cluster] = {}
        self.links = Links(
            api, project, service, wait_s=integration_wait_s, sleep=lambda s: self.sleep(s)
        )

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

    def preflight_findings(self, flow: FlowSpec, *, schemas: bool = False) -> list[Finding]:
        """Preflight's findings on Aiven, one a line (bot.replicators.aiven_preflight)."""
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
            if svc is not None:  # as just read
                return svc
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

    def _refuse_unfit(self, flow: FlowSpec) -> None:
        """Refuse what Aiven cannot hold before anything is written."""
        try:
            if flow.checkpoints:
                mm2_user_config(flow)  # a group selection that fits Aiven's groups setting
            flow_body(flow)
        except UserError as exc:
            raise ReplicatorError(str(exc)) from None

    def _join(self, flow: FlowSpec) -> dict[str, Any]:
        """Both clusters joined to the MM2 service and their integrations running; the
        service as read (created first when missing and allowed)."""
        svc = self.mm2_service() or self.prepare()
        self.links.fresh = set()
        with self._lock():
            for conf, alias, svc_of in (
                (flow.source, flow.source_alias, flow.source_aiven),
                (flow.target, flow.target_alias, flow.target_aiven),
            ):
                self.links.integration(self.links.source_of(conf, alias, svc_of), alias)
        self.links.wait([flow.source_alias, flow.target_alias])
        return svc

    def ensure(self, flow: FlowSpec) -> list[str]:
        self._refuse_unfit(flow)
        svc = self._join(flow)
        with self._lock():
            self._service_settings(flow, svc)
            self.write_flow(flow)
        return self.parts(flow)

    def start_from(self, flow: FlowSpec, starts: Mapping[TP, int]) -> list[str]:
        """The flow created DISABLED, its MirrorSourceConnector's positions written where
        Aiven's MM2 reads them (bot.replicators.aiven_start) and read back, then enabled and
        read back. An enabled flow is left as it is, its positions untouched. A disabled one
        (a crash before it was enabled) gets its positions written again, unless it has
        copied past them already: then it ran and was disabled since, or the entries are
        stale, and moving it back or forward would copy records twice or lose them (raised,
        nothing changed). A reverse flow (no checkpoints) leaves the service's groups setting
        as it is: that is shared with the forward flow, and a reverse flow hands no group
        offsets."""
        self._refuse_unfit(flow)
        svc = self._join(flow)
        with self._lock():
            if flow.checkpoints:
                self._service_settings(flow, svc)
            current = self.read_flow(flow)
            if current is not None and current.get("enabled"):
                return self.parts(flow)  # started before: copying from where it stands
            self.write_flow(flow, enabled=False)
        store = self.start_store(flow)
        past = past_starts(store.read(), starts)
        if past:
            (tp, (stored, start)), *_ = sorted(past.items())
            raise ReplicatorError(
                f"the {self._flow_name(flow)} of {self.where} is disabled, and {store.where} "
                f"holds positions past the start for {len(past)} partition(s) (e.g. "
                f"{tp[0]}[{tp[1]}]: copied up to {stored}, start {start}): it ran and was "
                "disabled since (resume it), or these entries are stale (reset them there "
                "with a tombstone per key, as Aiven's docs say); nothing was changed"
            )
        store.write(positions(starts), sleep=self.sleep)
        with self._lock():
            current = self.read_flow(flow)
            if current is None:
                raise ReplicatorError(
                    f"{self.where}: the {self._flow_name(flow)} was removed before it started",
                    retriable=True,
                )
            if not current.get("enabled"):
                self.write_flow(flow, enabled=True)
        return self.parts(flow)

    def start_store(self, flow: FlowSpec) -> StartStore:
        """Where the flow's MirrorSourceConnector keeps its positions: MM2's offsets topic on
        the flow's target."""
        topic = self.offsets_topic.format(source=flow.source_alias, target=flow.target_alias)
        return StartStore(self._target(flow), topic, self.offsets_connector, flow.source_alias)

    def _target(self, flow: FlowSpec) -> Cluster:
        cluster = self._clusters.get(flow.name)
        if cluster is None:
            cluster = self._clusters[flow.name] = Cluster(f"{flow.name}-target", flow.target)
        return cluster

    def status(self, flow: FlowSpec) -> ReplicatorStatus:
        parts, errors = {}, []
        try:
            by_alias = {alias_of(i): i for i in self.links.integrations()}
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
        cluster = self._target(flow)
        source = flow.source_alias

        def mine(name: str, part: dict) -> bool:  # the flow's MirrorSourceConnector
            if name == self.offsets_connector:
                return True
            return name.endswith("MirrorSourceConnector") and part.get("cluster") == source

        try:
            meta = cluster.admin.list_topics(topic, timeout=30).topics.get(topic)
            if meta is None or meta.error is not None:
                why = "does not exist" if meta is None else reason(KafkaException(meta.error))
                return ReplicatedOffsets(problem=f"{topic} on the target: {why}")
            return ReplicatedOffsets(offsets_topic_offsets(cluster, topic, mine))
        except KafkaException as exc:
            if exc.args and exc.args[0].code() in UNREADABLE:
                return ReplicatedOffsets(problem=f"{topic} on the target: {reason(exc)}")
            raise ReplicatorError(
                f"reading MM2's offsets ({topic}) on the target: {reason(exc)}", retriable=True
            ) from None
        except TimeoutError as exc:
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

    def gone(self, flow: FlowSpec) -> bool:
        """The replication flow is gone (its integrations are shared: they stay)."""
        return self.read_flow(flow) is None

    def delete(self, flow: FlowSpec) -> None:
        """The flow goes; the integrations and endpoints stay (shared, reused next time)."""
        with self._lock(), contextlib.suppress(NotFound):
            self.api.call(
                f"delete the {self._flow_name(flow)} of {self.where}",
                "delete_mirrormaker_replication_flow",
                *self._flow_path(flow),
            )
