"""Preflight on Aiven: one finding per line, each saying what was checked and what was found.

Checked: the token (through the project), the MM2 service (exists and RUNNING, or may be
created), the groups setting (a reverse flow instead says where its start positions go), and
each side that is an Aiven Kafka service (exists, RUNNING, its Kafka version,
the schema registry when schemas are migrated, topic auto-creation: the bot creates every topic
itself with its configs, so auto-creation is never relied on).
"""

from __future__ import annotations

from typing import Any, Protocol

from bot.aiven.api import AivenApi
from bot.aiven.service import AivenService
from bot.replicators.aiven_flow import groups_expression
from bot.replicators.base import Finding, FlowSpec, ReplicatorError

__all__ = ["Finding", "preflight"]


class MM2Service(Protocol):
    """What preflight reads of the Aiven replicator (bot.replicators.aiven.AivenReplicator)."""

    api: AivenApi
    project: str
    plan: str | None
    cloud: str | None
    offsets_topic: str

    @property
    def where(self) -> str: ...

    def mm2_service(self) -> dict[str, Any] | None: ...


def preflight(rep: MM2Service, flow: FlowSpec, *, schemas: bool = False) -> list[Finding]:
    """Every finding, problems included (nothing raised for what the API answered, except a
    fault that may pass)."""
    found: list[Finding] = []
    try:
        rep.api.call(f"read project {rep.project}", "get_project", rep.project)
    except ReplicatorError as exc:
        _unless_passing(exc)
        return [Finding(False, str(exc))]
    found.append(
        Finding(True, f"token in {rep.api.token_env} accepted; project {rep.project} found")
    )
    found.append(_mm2(rep))
    if not flow.checkpoints:
        found.append(_start_positions(rep, flow))
    else:
        try:
            groups = groups_expression(flow.groups)
            found.append(Finding(True, f"consumer groups as Aiven's groups setting: {groups}"))
        except Exception as exc:  # noqa: BLE001 - UserError: the selection does not fit
            found.append(Finding(False, str(exc)))
    for side, svc, registry in (
        ("source", flow.source_aiven, False),
        ("target", flow.target_aiven, schemas),
    ):
        if svc is None:
            if side == "target":
                found.append(Finding(True, "target is not an Aiven service: joined as external"))
            continue
        found.extend(_kafka(rep, side, svc, registry))
    return found


def _start_positions(rep: MM2Service, flow: FlowSpec) -> Finding:
    """A reverse flow starts at given offsets, which the Aiven API cannot set."""
    topic = rep.offsets_topic.format(source=flow.source_alias, target=flow.target_alias)
    return Finding(
        True,
        f"the {flow.source_alias}->{flow.target_alias} flow starts at the cutover's end "
        f"offsets, written by the bot to {topic} on {flow.target_alias} while the flow is "
        "disabled (the Aiven API cannot set a flow's start): this relies on Aiven's MM2 "
        "reading its start positions from that topic, as Aiven's docs on resetting a topic "
        "describe",
        warning=True,
    )


def _unless_passing(exc: ReplicatorError) -> None:
    """A fault that may pass (a 5xx, a dropped connection) is no finding: raised, the step is
    held "degraded" and asks again."""
    if exc.retriable:
        raise exc


def _mm2(rep: MM2Service) -> Finding:
    try:
        svc = rep.mm2_service()
    except ReplicatorError as exc:
        _unless_passing(exc)
        return Finding(False, str(exc))
    if svc is None:
        return Finding(
            True,
            f"{rep.where} does not exist; it will be created (plan {rep.plan}, cloud "
            f"{rep.cloud or 'the project default'}) and waited for until RUNNING",
            warning=True,
        )
    state = svc.get("state")
    if state in ("REBUILDING", "REBALANCING"):  # Aiven is at work on it: prepare_target waits
        return Finding(True, f"{rep.where} is {state}; prepare_target waits until RUNNING", True)
    if state != "RUNNING":
        return Finding(
            False, f"{rep.where} is {state}: power it on (avn service update --power-on)"
        )
    return Finding(True, f"{rep.where} is RUNNING")


def _kafka(rep: MM2Service, side: str, svc: AivenService, registry: bool) -> list[Finding]:
    try:
        info = svc.api.call(f"read {side} service {svc}", "get_service", svc.project, svc.service)
    except ReplicatorError as exc:
        _unless_passing(exc)
        return [Finding(False, f"{side}: {exc}")]
    if info.get("service_type") != "kafka":
        return [Finding(False, f"{side} {svc} is a {info.get('service_type')} service, not kafka")]
    config = info.get("user_config") or {}
    state = info.get("state")
    version = config.get("kafka_version") or "unknown"
    out = [Finding(state == "RUNNING", f"{side} Aiven service {svc}: {state}, Kafka {version}")]
    if svc.project != rep.project:
        out.append(
            Finding(False, f"{side} {svc} is in another project than {rep.where}: not supported")
        )
    if side == "target":
        auto = (config.get("kafka") or {}).get("auto_create_topics_enable")
        out.append(
            Finding(
                True,
                "topics are created by the bot, each with its configs (Kafka admin on the "
                f"target); topic auto-creation on {svc} is "
                + (
                    "on: a client writing early would create a topic with default configs"
                    if auto
                    else "off or default"
                ),
                warning=bool(auto),
            )
        )
    if registry:
        on = bool(config.get("schema_registry"))
        out.append(
            Finding(
                on,
                f"schema registry (Karapace) on {svc} is "
                + (
                    "enabled"
                    if on
                    else "disabled: enable it (user_config schema_registry) "
                    "before migrating schemas"
                ),
            )
        )
    return out
