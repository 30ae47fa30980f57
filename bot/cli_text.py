"""The CLI's presenter: the read model (bot/migration/view.py) as text, or as JSON.

Only renders: every figure comes from the view; the Slack presenter is bot/slack/blocks.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from bot.migration.view import MigrationView, Plan, Report, Row

MARKS = {
    "done": "[x]",
    "running": "[>]",
    "failed": "[!]",
    "skipped": "[-]",
    "regressed": "[<]",
    "pending": "[ ]",
}


def as_json(view: MigrationView | Report | Plan | list[Row]) -> str:
    data = [vars(r) for r in view] if isinstance(view, list) else view.to_dict()
    return json.dumps(data, indent=2, default=str)


def status(v: MigrationView) -> str:
    lines = [
        f"{v.id} ({v.status}, version {v.version}): {v.source} -> {v.target} "
        f"via {v.replicator}, {len(v.topics)} topic(s), requested by {v.requested_by}"
    ]
    for step in v.steps:
        took = f" {step.seconds:.0f}s" if step.seconds is not None else ""
        by = f" by {step.actor}" if step.actor and step.actor != "bot" else ""
        lines.append(f"  {MARKS.get(step.state, '[?]')} {step.step}{took}{by}")
    if v.waiting_for:
        lines.append(f"now: {v.step}: {v.waiting_for}")
    if v.reason:
        lines.append(f"reason: {v.reason}")
    if v.replication_lag is not None:
        eta = f", ETA {v.eta_seconds:.0f}s" if v.eta_seconds else ""
        lines.append(f"replication lag: {v.replication_lag:,} records{eta}")
    if v.connectors:
        lines.append("connectors:")
        lines += [f"  {c.text()}" for c in v.connectors]
    if v.gate is not None and v.gate.decided_lag is not None:
        at = datetime.fromtimestamp(v.gate.decided_at, UTC).strftime("%H:%M:%S UTC")
        lines.append(f"  at decision: {v.gate.decided_lag:,} records ({at})")
    if v.gate_open:
        lines.append(
            f"approvers decide with: kafka-migrate approve|reject {v.id} "
            f"--version {v.version} (whoever requested it may reject, not approve)"
        )
    lines.append(v.rollback)
    return "\n".join(lines)


def report(r: Report) -> str:
    lines = [status(r.migration), "approvals:"]
    lines += [
        f"  {a.at} {a.step} {a.decision} by {a.actor} from {a.interface} (version {a.version})"
        for a in r.approvals
    ] or ["  none"]
    lines.append(f"handover: {r.handover_text()}")
    if r.handback:
        lines.append(f"handback: {r.handover_text(back=True)}")
    if schemas := r.schemas:
        lines.append(
            f"schemas ({'ids preserved' if schemas['imported'] else 'no IMPORT mode'}): "
            + ", ".join(schemas["subjects"])
        )
        if schemas["parity"]:
            lines.append(f"  ids differ: {'; '.join(schemas['parity'])}")
        if schemas.get("soft_deleted"):
            held = "; ".join(schemas["soft_deleted"])
            lines.append(f"  soft-deleted on the source, carried (ids held): {held}")
        if schemas.get("skipped"):  # recorded before soft-deleted versions were carried
            lines.append(f"  skipped (soft-deleted): {'; '.join(schemas['skipped'])}")
        if schemas.get("hard_deleted"):
            lines.append(f"  hard-deleted on the source: {'; '.join(schemas['hard_deleted'])}")
        for schema_id, where in (schemas.get("lost_ids") or {}).items():
            lines.append(
                f"  records name id {schema_id}, which the source no longer has: "
                + ", ".join(where)
            )
    lines.append("timeline:")
    lines += [
        f"  {e.at} {e.actor}"
        + (f" (on {e.host})" if e.host else "")
        + f": {e.message}"
        + (f" [{e.reason}]" if e.reason and e.reason not in e.message else "")
        for e in r.timeline
    ]
    return "\n".join(lines)


def listing(rows: list[Row]) -> str:
    return (
        "\n".join(
            f"{r.id}  {r.status:<9} {r.step:<20} v{r.version}  {r.topics} topic(s)  "
            f"by {r.requested_by}"
            for r in rows
        )
        or "no migrations"
    )


def plan(p: Plan) -> str:
    lines = [f"topics: {', '.join(p.topics)}"]
    for t in p.topic_lines:
        lines.append(
            f"  {t.source} -> {t.target}: {t.partitions} partition(s), "
            f"{', '.join(t.actions) or 'in place'}"
            + (f"; problems: {'; '.join(t.problems)}" if t.problems else "")
        )
        lines += [f"      {k} = {v}" for k, v in sorted(t.configs.items())]
    if p.excluded:
        lines.append(f"excluded: {', '.join(p.excluded)}")
    if p.replication_lines:
        lines.append("replication:")
        lines += [f"  {line}" for line in p.replication_lines]
    if p.schema_summary is not None:
        counts = p.schema_summary
        lines.append(
            f"schemas: {counts['subjects']} subject(s), {counts['versions']} version(s): "
            f"{counts['create']} to create, {counts['present']} there, "
            f"{counts['conflict']} conflict(s)"
        )
        lines += [f"  {line}" for line in p.schema_lines]
    if p.connector_lines or p.connector_problems:
        lines.append(f"connectors: {len(p.connector_lines)} move")
        for line, (_name, config) in zip(
            p.connector_lines, sorted((p.connector_configs or {}).items()), strict=False
        ):
            lines.append(f"  {line}")
            lines += [f"      {k} = {v}" for k, v in sorted(config.items())]
        lines += [f"  problem: {line}" for line in p.connector_problems]
        lines += [f"  warning: {line}" for line in p.connector_warnings]
    if p.reverse_lines or p.reverse_problems:
        lines.append("way back (reverse_via):")
        lines += [f"  problem: {line}" for line in p.reverse_problems]
        lines += [f"  {line}" for line in p.reverse_lines]
    return "\n".join(lines)


def sandbox(state: dict) -> str:
    """`kafka-migrate sandbox status`: where the sandbox runs and whether each part is up."""
    lines = [f"sandbox in {state['dir']}"]
    for side in ("source", "target"):
        lines.append(
            f"  {side}: {state[side]['bootstrap_servers']} (SASL_PLAINTEXT, PLAIN, "
            f"users {', '.join(state[side]['users'])})"
        )
    connect = state["connect"]
    workers = connect.get("workers") or [connect["url"]]
    lines.append(
        f"  connect: {connect['url']} (on the target; MirrorMaker 2"
        + (f"; {len(workers)} workers: {', '.join(workers)}" if len(workers) > 1 else "")
        + ("; exactly-once" if connect.get("exactly_once") else "")
        + ")"
    )
    if "connect_source" in state:
        worker = state["connect_source"]
        auth = f"; basic auth, user {worker['username']}" if worker.get("username") else ""
        lines.append(f"  connect_source: {worker['url']} (on the source{auth})")
    lines.append(f"  bot config: {state['config']}")
    lines += [f"  {n}: {'running' if up else 'NOT running'}" for n, up in state["running"].items()]
    return "\n".join(lines)
