"""Reading a migration: status (the card's and the CLI's view), the list, the final report."""

from __future__ import annotations

from typing import Any

from bot.migration.compensation import undo_plan
from bot.migration.pace import eta_seconds
from bot.migration.steps import INFO, rollback_hint
from bot.migration.store import Store


def status(store: Store, migration_id: str) -> dict[str, Any]:
    m = store.get(migration_id)
    runs = {}
    for run in store.step_runs(m.id):
        runs[run.step] = run
    samples = store.lag_samples(m.id, 100)
    points = [
        (s.at.timestamp(), s.replication_lag) for s in samples if s.replication_lag is not None
    ]
    consumer = [s.consumer_lag for s in samples if s.consumer_lag is not None]
    steps = []
    for info in INFO.values():
        run = runs.get(info.step)
        seconds = None
        if run and run.started_at and run.finished_at:
            seconds = (run.finished_at - run.started_at).total_seconds()
        steps.append(
            {
                "step": str(info.step),
                "kind": str(info.kind),
                "title": info.title,
                "state": run.state if run else "pending",
                "actor": run.actor if run else None,
                "seconds": seconds,
                "reason": run.reason if run else None,
            }
        )
    return {
        "id": m.id,
        "name": m.name,
        "status": str(m.status),
        "step": str(m.step),
        "version": m.version,
        "note": m.note,
        "reason": m.reason,
        "source": m.source,
        "target": m.target,
        "replicator": m.replicator,
        "replication_policy": m.replication_policy,
        "topics": m.selected_topics,
        "groups": m.groups,
        "requested_by": m.requested_by,
        "steps": steps,
        "replication_lag": points[-1][1] if points else None,
        "consumer_lag": consumer[-1] if consumer else None,
        "eta_seconds": eta_seconds(points),
        "gate": m.state.get("gate"),
        "rollback": rollback_hint(m.step),
        "undo": undo_plan(m.state),
    }


def listing(store: Store, open_only: bool = False) -> list[dict[str, Any]]:
    return [
        {
            "id": m.id,
            "status": str(m.status),
            "step": str(m.step),
            "version": m.version,
            "topics": len(m.selected_topics),
            "requested_by": m.requested_by,
        }
        for m in store.list(open_only=open_only)
    ]


def report(store: Store, migration_id: str) -> dict[str, Any]:
    data = status(store, migration_id)
    m = store.get(migration_id)
    data["approvals"] = [
        {
            "step": a.step,
            "decision": a.decision,
            "actor": a.actor,
            "via": a.via,
            "version": a.version,
            "at": a.created_at.isoformat(),
        }
        for a in store.all_approvals(m.id)
    ]
    data["timeline"] = [
        {
            "at": e.at.isoformat(),
            "actor": e.actor,
            "kind": e.kind,
            "step": e.step,
            "message": e.message,
            "reason": e.reason,
            "host": (e.data or {}).get("host"),
        }
        for e in store.events(m.id)
    ]
    data["handover"] = m.state.get("handover")
    data["verify"] = m.state.get("verify")
    data["schemas"] = m.state.get("schemas")
    data["lag_samples"] = [
        (s.at.isoformat(), s.replication_lag) for s in store.lag_samples(m.id, 1000)
    ]
    return data
