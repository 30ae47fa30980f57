"""What a cancel takes back: the side effects the steps recorded before applying them.

Always: the MirrorMaker 2 connectors (the flow, and the reverse flow of a soak or a rollback)
and the write fences (producers may write to the source again; on the way back, to the
target); until the repoint is approved, the connectors that were moving: the
STOPPED copies are deleted from the target's Connect and the old ones run again as they were
(RUNNING or PAUSED). After it, the connectors stay where they are. With `cleanup=target`, also
the target topics and ACL bindings this migration created (never those that were there
before), as long as no client was pointed at the target: from handover_offsets on, it is
refused.
"""

from __future__ import annotations

from bot.connect.move import restore
from bot.errors import UserError
from bot.migration.clients import Clients
from bot.migration.ports import Runbook
from bot.migration.state import MigrationState
from bot.migration.steps import ORDER, Step
from bot.models import Migration
from bot.reasons import reason

CLEANUPS = {"target"}
LAST_CLEANUP_STEP = Step.REPOINT_CLIENTS  # after its approval clients may use the target


def parse_cleanup(words: list[str]) -> str | None:
    """`cancel ID [cleanup=target]`: the words after the id (a `yes` is the caller's)."""
    cleanup = None
    for word in words:
        key, _eq, value = word.partition("=")
        if key.lower() != "cleanup" or not value:
            raise UserError(f"cancel takes only cleanup=target after the id, not {word[:40]!r}")
        if cleanup is not None:
            raise UserError("cleanup= is given twice")
        cleanup = value.lower()
        check_cleanup(Step.PREFLIGHT, cleanup)
    return cleanup


def check_cleanup(step: str, cleanup: str | None) -> None:
    """Refuse an unknown cleanup, or a target cleanup once clients may use the target."""
    if cleanup is None:
        return
    if cleanup not in CLEANUPS:
        raise UserError(f"cleanup={cleanup[:40]!r} is not known: the only cleanup is target")
    if ORDER.index(step) > ORDER.index(LAST_CLEANUP_STEP):
        raise UserError(
            f"cleanup=target is refused at {step}: the repoint was approved, clients may "
            "already read or write the target topics; cancel without it keeps them"
        )


def connectors_return(step: str) -> bool:
    """Until the repoint is approved, moving connectors go back to the old Connect."""
    return ORDER.index(Step(step)) <= ORDER.index(LAST_CLEANUP_STEP)


def undo_plan(
    state: MigrationState, cleanup: str | None = None, step: str = Step.PREFLIGHT
) -> list[str]:
    """What a cancel would take back, from the side effects recorded in the state."""
    plan = []
    if state.replication:
        plan.append("delete the MirrorMaker 2 connectors")
    if state.reverse and not state.reverse_deleted:
        plan.append(
            "delete the reverse flow (nothing is copied back to the source any more; clients "
            "stay where they are)"
        )
    if state.back_fence:
        plan.append(
            f"remove the write fence on the target ({len(state.back_fence)} DENY binding(s)): "
            "producers may write to the target again"
        )
    copies, stopped = state.connector_copies or [], state.connectors_stopped or {}
    if (copies or stopped) and connectors_return(step):
        if copies:
            plan.append(
                f"delete the {len(copies)} STOPPED connector cop(ies) on the target's Connect"
            )
        if stopped:
            plan.append(
                f"run the {len(stopped)} stopped connector(s) again on the old Connect as they "
                "were: " + ", ".join(f"{n} {s}" for n, s in sorted(stopped.items())[:10])
            )
    elif copies:
        plan.append("keep the connectors where they are (the repoint was approved)")
    if state.fence:
        plan.append(
            f"remove the write fence ({len(state.fence)} DENY binding(s)): producers may "
            "write to the source again"
        )
    topics, acls = state.created_topics or [], state.created_acls or []
    if cleanup == "target":
        if acls:
            plan.append(f"delete the {len(acls)} ACL binding(s) it created on the target")
        if state.created_schemas:
            plan.append(
                f"delete the {len(state.created_schemas)} schema version(s) it registered "
                "on the target registry"
            )
        if topics:
            plan.append(
                f"delete the {len(topics)} topic(s) it created on the target: "
                + ", ".join(topics[:10])
                + (f" and {len(topics) - 10} more" if len(topics) > 10 else "")
            )
        return plan + ["keep what was on the target before"]
    kept = f" ({len(topics)} created topic(s); cleanup=target deletes them)" if topics else ""
    return plan + ["keep the target's topics and ACLs" + kept]


def undo(clients: Clients, runbook: Runbook, m: Migration, cleanup: str | None = None) -> list[str]:
    """Take the side effects back, in an order that leaves nothing half-done behind: the flow
    first (nothing copies any more), then the fence, then the target's ACLs and topics. When a
    part fails, nothing is cancelled and the UserError says what was already undone."""
    check_cleanup(m.step, cleanup)
    state, undone = m.state, []
    target = cleanup == "target"
    try:
        if state.replication:
            clients.replicator(m.replicator).delete(clients.flow(m))
            undone.append("MirrorMaker 2 connectors deleted")
        back = clients.back(m)
        if state.reverse and back is not None:
            back[0].delete(back[1])
            if not state.reverse_deleted:
                undone.append("reverse flow deleted")
        if state.back_fence:
            runbook.unfence(clients.cluster(m.target), state.back_fence)
            undone.append(f"target write fence removed ({len(state.back_fence)} DENY binding(s))")
        connect = clients.connect(m.options)
        if connect and connectors_return(m.step):
            old, new = connect
            for name in state.connector_copies or []:
                new.delete(name)
            if state.connector_copies:
                undone.append(f"{len(state.connector_copies)} connector cop(ies) deleted")
            if state.connectors_stopped:
                undone.extend(restore(old, state.connectors_stopped))
        if state.fence:
            runbook.unfence(clients.cluster(m.source), state.fence)
            undone.append(f"write fence removed ({len(state.fence)} DENY binding(s))")
        if target and state.created_acls:
            runbook.drop_acls(clients.cluster(m.target), state.created_acls)
            undone.append(f"{len(state.created_acls)} target ACL binding(s) deleted")
        if target and state.created_topics:
            runbook.drop_topics(clients.cluster(m.target), state.created_topics)
            undone.append(f"{len(state.created_topics)} target topic(s) deleted")
        if target and state.created_schemas:
            target_registry = clients.registries(m.options)[1]
            for subject, version, _id in reversed(state.created_schemas):
                target_registry.delete_version(subject, int(version))
            undone.append(f"{len(state.created_schemas)} target schema version(s) deleted")
    except Exception as exc:  # noqa: BLE001 - said to the user as a reason
        raise UserError(
            f"cannot cancel {m.id} yet: undoing its side effects failed ({reason(exc)}); "
            "nothing else changed, try again"
            + (f" (already done: {', '.join(undone)})" if undone else "")
        ) from None
    return undone
