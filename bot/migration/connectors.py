"""The connectors that move with a migration (`connect_from=`/`connect_to=`), at their steps.

- preflight: plan them (`bot.connect.plan`): a missing plugin, a Connect too old for the offsets
  API or a name taken on the target fails the step; a sink's group joins the migration's groups.
- producers_stopped: the source connectors are stopped (their states recorded first): they
  are producers, and the quiet window starts once they are STOPPED. So are the sinks that do
  not run (PAUSED, FAILED): their groups are handed over where they stand.
- consumers_stopped: the running sink connectors are stopped (consumers); once the groups are
  empty, each connector is created STOPPED on the target's Connect (names recorded first) and
  every source connector's offsets are copied and read back.
- consumers_on_target / producers_on_target: the sinks, then the sources, are resumed on the
  target, and the step waits until each runs with all its tasks (FAILED fails it, with the
  worker's trace).
- cancel before the repoint: the old connectors run again as they were, the copies are deleted.

Each function returns None when its part holds (the step goes on with its own checks) or the
Result the step returns now. `ctx.state.connectors` is what the card, status and report show:
the plan (masked) with each connector's state on both sides and the offsets moved.
"""

from __future__ import annotations

from typing import Any

from bot.connect import move
from bot.connect.plan import ConnectorPlan, plan_connectors
from bot.migration.context import Context, Result


def registry_urls(registries) -> tuple[str, str] | None:
    """(source, target) registry URLs of a migration that names its registries, or None."""
    if registries is None:
        return None
    return (registries[0].url.rstrip("/"), registries[1].url.rstrip("/"))


def _registry(ctx: Context) -> tuple[str, str] | None:
    return registry_urls(ctx.registries)


def plan_moves(
    connect, source, target, topics, source_topics, naming, options, registries
) -> ConnectorPlan:
    """What moves from `connect` (old, new) for these topics; reads only (plan and preflight)."""
    old, new = connect
    ids = tuple(
        c.admin.describe_cluster(request_timeout=15).result(timeout=20).cluster_id
        for c in (source, target)
    )
    return plan_connectors(
        old,
        new,
        topics,
        source_topics,
        naming=naming,
        include=options.get("connectors") or "",
        exclude=options.get("connectors_exclude") or "",
        registry=registry_urls(registries),
        cluster_ids=ids,
    )


def plan(ctx: Context, source_topics: list[str]) -> ConnectorPlan | None:
    """Preflight: what moves; stored (masked) in the state, the sinks' groups added."""
    if ctx.connect is None:
        return None
    old, new = ctx.connect
    result = plan_moves(
        ctx.connect,
        ctx.source,
        ctx.target,
        ctx.topics,
        source_topics,
        ctx.flow.naming,
        ctx.options,
        ctx.registries,
    )
    ctx.state.connectors = {
        "from": old.name,
        "to": new.name,
        "versions": result.versions,
        "moves": {m.name: m.as_state() | {"planned": m.state} for m in result.moves},
    }
    for sink in result.sinks:
        if sink.group and sink.group not in ctx.migration.groups:
            ctx.migration.groups = [*ctx.migration.groups, sink.group]
    return result


def _moves(ctx: Context, kind: str) -> list[str]:
    moves = (ctx.state.connectors or {}).get("moves", {})
    return sorted(name for name, m in moves.items() if m["kind"] == kind)


def _stopped_with(ctx: Context, kind: str) -> list[str]:
    """What stops with the producers (kind source): the source connectors, and the sinks that
    do not run on the old Connect (PAUSED, FAILED...): they read nothing, their tasks may still
    hold the group, and their group is handed over where it stands. With the consumers (kind
    sink): the other sinks."""
    moves = (ctx.state.connectors or {}).get("moves", {})
    idle = {n for n, m in moves.items() if m["kind"] == "sink" and m.get("planned") != "RUNNING"}
    if kind == "source":
        return sorted(set(_moves(ctx, "source")) | idle)
    return sorted(set(_moves(ctx, "sink")) - idle)


def _note(ctx: Context, name: str, **values: Any) -> None:
    """Update what the card shows of one connector, stored when it changed (a view of the
    states on both sides, written as it is seen)."""
    data = dict(ctx.state.connectors or {})
    moves = dict(data.get("moves", {}))
    if all(moves[name].get(k) == v for k, v in values.items()):
        return
    moves[name] = {**moves[name], **values}
    data["moves"] = moves
    ctx.store_now("connectors", data)


def stop_old(ctx: Context, kind: str) -> Result | None:
    """Stop the `kind` (source|sink) connectors on the old Connect, each one's state recorded
    before it is stopped; None once every one is STOPPED with no task left."""
    names = _stopped_with(ctx, kind)
    if ctx.connect is None or not names:
        return None
    old, _new = ctx.connect
    before = dict(ctx.state.connectors_stopped or {})
    unseen = [n for n in names if n not in before]
    if unseen:  # recorded before the first stop, never overwritten after a restart
        seen = {n: s.state for n, s in move.states(old, unseen).items()}
        ctx.record_side_effect("connectors_stopped", {**before, **seen})
    move.stop(old, names)
    pending = move.not_stopped(old, names)
    for name in names:
        _note(ctx, name, state="STOPPING" if name in pending else "STOPPED")
    if pending:
        return Result.waiting(
            f"stopping the {kind} connectors on {old.name}: {', '.join(pending)} not stopped yet"
        )
    return None


def create_copies(ctx: Context) -> Result | None:
    """Each moving connector created STOPPED on the new Connect (its name recorded first), and
    every source connector's offsets copied from the old one and read back."""
    moves = (ctx.state.connectors or {}).get("moves", {})
    if ctx.connect is None or not moves:
        return None
    old, new = ctx.connect
    created = list(ctx.state.connector_copies or [])
    missing = [n for n in sorted(moves) if n not in created]
    if missing:
        ctx.record_side_effect("connector_copies", created + missing)
    for name in sorted(moves):
        move.ensure_copy(old, new, name, ctx.flow.naming, _registry(ctx))
        copied = move.copy_offsets(old, new, name) if moves[name]["kind"] == "source" else []
        _note(ctx, name, target_state=new.status(name).state, offsets=copied)
    return None


def start_new(ctx: Context, kind: str) -> Result | None:
    """Resume the `kind` copies on the new Connect; None once each runs with all its tasks."""
    names = _moves(ctx, kind)
    if ctx.connect is None or not names:
        return None
    _old, new = ctx.connect
    states = move.resume(new, names)
    failures = [line for s in states.values() for line in s.failures]
    for name, state in states.items():
        _note(ctx, name, target_state=state.state, tasks=len(state.tasks))
    if failures:
        return Result.failed(f"{kind} connector failed on {new.name}: " + "; ".join(failures[:3]))
    pending = [n for n, s in states.items() if not s.running]
    if pending:
        return Result.waiting(
            f"starting the {kind} connectors on {new.name}: "
            + ", ".join(f"{n} {states[n].state}" for n in pending)
        )
    return None


def summary(ctx: Context, kind: str | None = None) -> str:
    moves = (ctx.state.connectors or {}).get("moves", {})
    chosen = [m for m in moves.values() if kind is None or m["kind"] == kind]
    if not chosen:
        return ""
    return "; connectors: " + ", ".join(
        f"{m['name']} {m.get('state', '?')} → {m.get('target_state', '?')}"
        + (f" ({len(m['offsets'])} offset(s) copied)" if m.get("offsets") else "")
        for m in sorted(chosen, key=lambda m: m["name"])
    )
