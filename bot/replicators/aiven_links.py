"""How the two clusters join an Aiven MirrorMaker 2 service: an Aiven Kafka service directly,
any other cluster through an `external_kafka` integration endpoint; then one
`kafka_mirrormaker` integration per cluster (cluster -> MM2 service) under its `cluster_alias`,
waited for until `running`, with Aiven's `errors` and `likely_error_cause` as given. Each call
reads first and writes only what differs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from bot.aiven.api import AivenApi, Conflict
from bot.aiven.service import AivenService
from bot.replicators.aiven_flow import endpoint_config, endpoint_name
from bot.replicators.base import ReplicatorError

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


def alias_of(integration: Mapping[str, Any]) -> str | None:
    return (integration.get("user_config") or {}).get("cluster_alias")


def joins(integration: Mapping[str, Any], source: Mapping[str, str]) -> bool:
    key, value = next(iter(source.items()))
    return integration.get(key) == value


class Links:
    """The integrations of one MM2 service. `fresh`: aliases whose integration or endpoint was
    created or changed since it was last cleared (their old state may still show)."""

    def __init__(
        self,
        api: AivenApi,
        project: str,
        service: str,
        *,
        wait_s: float,
        sleep: Callable[[float], None],
    ):
        self.api = api
        self.project = project
        self.service = service
        self.where = f"MM2 service {project}/{service}"
        self.wait_s = wait_s
        self.sleep = sleep
        self.fresh: set[str] = set()

    def source_of(
        self, conf: Mapping[str, Any], alias: str, svc: AivenService | None
    ) -> dict[str, str]:
        """How the cluster joins: {"source_service": name} when it is Aiven service `svc`,
        else {"source_endpoint_id": id} of its external_kafka endpoint."""
        if svc is not None:
            if svc.project != self.project:
                raise ReplicatorError(
                    f"cluster {alias!r} is Aiven service {svc}, in another project than "
                    f"{self.where}: give it as an external cluster (bootstrap_servers) instead"
                )
            return {"source_service": svc.service}
        return {"source_endpoint_id": self.endpoint(conf, alias)}

    def endpoint(self, conf: Mapping[str, Any], alias: str) -> str:
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
                    self.fresh.add(alias)
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
                self.fresh.add(alias)
                return created["service_integration_endpoint"]["endpoint_id"]
            except Conflict:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def integrations(self) -> list[dict[str, Any]]:
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

    def integration(self, source: Mapping[str, str], alias: str) -> None:
        """Upsert the kafka_mirrormaker integration cluster -> MM2 service under `alias`."""
        joined = next(iter(source.values()))
        for attempt in (1, 2):
            existing = self.integrations()
            for i in existing:
                if alias_of(i) == alias:
                    if joins(i, source):
                        return
                    raise ReplicatorError(
                        f"{self.where}: cluster alias {alias!r} already belongs to "
                        f"{i.get('source_service') or i.get('source_endpoint_id')}, not "
                        f"{joined}: choose other aliases for this replicator, or remove that "
                        "integration"
                    )
            for i in existing:
                if joins(i, source):
                    raise ReplicatorError(
                        f"{self.where}: {joined} is integrated already, under the alias "
                        f"{alias_of(i)!r}, not {alias!r}: set the replicator's alias to "
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
                self.fresh.add(alias)
                return
            except Conflict:
                if attempt == 2:
                    raise

    def wait(self, aliases: list[str]) -> None:
        """Until both integrations run. A failed one raises with Aiven's errors at once, or at
        the deadline when it was just created or its endpoint just changed (the old state may
        still show)."""
        deadline = time.monotonic() + self.wait_s
        while True:
            states: dict[str, tuple[str, list[str], str | None]] = {}
            for i in self.integrations():
                if alias_of(i) in aliases:
                    states[alias_of(i)] = integration_state(i)
            late = time.monotonic() > deadline
            for alias, (status, errors, cause) in sorted(states.items()):
                if status == "failed" and (late or alias not in self.fresh):
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
