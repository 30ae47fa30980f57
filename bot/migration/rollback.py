"""The way back: the cutover run backwards during the soak, each step verified like its twin.

After an approved `rollback`: producers stopped on the target (quiet window; a write fence on
the target where the bot can), the reverse flow drained to 0 and the target's consumer lag
drained for groups with members, consumers stopped on the target, a "repoint to the source"
gate that shows how each group's offsets will be handed back, then the handback: the reverse
flow is deleted (nothing copies any more), the source's write fence lifted, and each group's
offsets written on the source exactly:

- arithmetic from the offsets recorded at the cutover, where the partition has no gaps: the
  source grew by exactly as many offsets as the target did since the cutover (every offset a
  record copied once, in order), so target offset t >= H maps to Q + (t - H) (H the target's
  end at the cutover, Q the source's);
- a group that did not move since the cutover gets back the source offset it was handed over
  from;
- elsewhere (transaction markers on the target, a forgotten producer on the source) record
  matching, as the forward handover does: a caught-up group is at the source's end, a part-way
  one at the source's end minus the records it has left, only where the record there matches.

Then consumers and producers on the source, verify (the source holds every record the target
does, by count and by content), and the migration is rolled back: every connector of both
directions deleted, the target's fence removed.
"""

from __future__ import annotations

import time

from bot.kafka import fence as kfence
from bot.kafka.acls import Acl
from bot.kafka.cluster import TP
from bot.kafka.groups import committed_offsets, describe_groups, end_offsets, lag_snapshot
from bot.kafka.handover import EXACT, UNKNOWN, GroupHandover, OffsetHandover, apply_once
from bot.kafka.handover import plan_handover as match_handover
from bot.kafka.inspect import has_authorizer
from bot.kafka.naming import IDENTITY_NAMING
from bot.kafka.records import visible_lags
from bot.kafka.verify import verify
from bot.migration import checks, quiet, reverse
from bot.migration.context import Context, Result
from bot.migration.steps import Step

GONE_WAIT = 30.0


def unfence(cluster, bindings: list[list[str]]) -> None:
    kfence.remove_fence(cluster, kfence.Fence([Acl(*b) for b in bindings], []))


def _tps(ctx: Context) -> list[TP]:
    return sorted(reverse.starts(ctx))


def _quiet(ctx: Context) -> dict[TP, int]:
    return {(t, int(p)): int(o) for t, p, o in ctx.state.back_quiet or []}


def _can_fence_target(ctx: Context) -> bool:
    return ctx.flow.target_aiven is None and bool(has_authorizer(ctx.target))


def target_producers_stopped(ctx: Context) -> Result:
    fenced = ""
    if ctx.options.get("fence") and _can_fence_target(ctx):
        if ctx.state.back_fence is None:
            fence = kfence.plan_fence(ctx.target, ctx.topics, [])
            ctx.record_side_effect("back_fence", [list(vars(b).values()) for b in fence.bindings])
            kfence.apply_fence(ctx.target, fence)
        fenced = f"; write fence on the target ({len(ctx.state.back_fence)} DENY binding(s))"
    elif ctx.options.get("fence"):
        fenced = "; no write fence on the target (no authorizer the bot can use there)"
    if ctx.observed.back_watch is None:
        ctx.observed.back_watch = quiet.new_watch(ctx, ctx.target, ctx.state.back_fence)
        if ctx.observed.back_watch is None:
            return Result.waiting(quiet.waiting_text(ctx, None, ctx.state.back_fence))
    ends = end_offsets(ctx.target, _tps(ctx))
    state = ctx.observed.back_watch.observe(ends, ctx.now)
    if not state.quiet:
        return Result.waiting(
            "stop producers on the target: "
            + quiet.waiting_text(ctx, state, ctx.state.back_fence)
            + fenced
        )
    ctx.store_now("back_quiet", [[t, p, o] for (t, p), o in sorted(ends.items())])
    return Result.done(
        "on the target: " + quiet.done_text(ctx, state, len(ends), ctx.state.back_fence) + fenced
    )


def _target_still_quiet(ctx: Context) -> Result | None:
    quiet = _quiet(ctx)
    now = end_offsets(ctx.target, list(quiet))
    moved = sorted(tp for tp, off in now.items() if quiet.get(tp) != off)
    if moved:
        ctx.observed.back_watch = None
        ctx.observed.back_drain_since = None
        where = ", ".join(f"{t}[{p}]" for t, p in moved[:5])
        return Result.regress(
            Step.TARGET_PRODUCERS_STOPPED, f"a producer wrote to the target again ({where})"
        )
    return None


def back_holds(ctx: Context) -> Result | None:
    """After the reverse drain: the target is still quiet and the reverse lag still 0."""
    if regress := _target_still_quiet(ctx):
        return regress
    moved = reverse.progress(ctx)
    ctx.observed.figures = {"replication_lag": moved.lag, "at": ctx.now}
    if moved.lag:
        return Result.regress(
            Step.REVERSE_DRAIN,
            f"reverse replication lag is back: {checks.describe_progress(moved)}",
            lag=moved.lag,
        )
    return None


def reverse_drain(ctx: Context) -> Result:
    if regress := _target_still_quiet(ctx):
        return regress
    moved = reverse.progress(ctx)
    snapshot = visible_lags(
        ctx.target,
        lag_snapshot(ctx.target, topics=ctx.topics, groups=ctx.migration.groups),
        read_committed=True,
    )
    behind = {g: lag.lag for g, lag in snapshot.groups.items() if lag.lag and lag.members}
    if moved.lag or behind:
        ctx.observed.back_drain_since = None
        groups = ", ".join(f"{g} {n:,}" for g, n in sorted(behind.items())[:5])
        return Result.waiting(
            f"reverse {checks.describe_progress(moved)}; consumer lag on the target: "
            f"{groups or 'none'}",
            lag=moved.lag,
            consumer_lag=sum(behind.values()),
        )
    if ctx.observed.back_drain_since is None:
        ctx.observed.back_drain_since = ctx.now
    held = ctx.now - ctx.observed.back_drain_since
    if held < ctx.timing.drain_window_seconds:
        return Result.waiting(
            f"both lags 0 for {held:.0f}s of {ctx.timing.drain_window_seconds}s",
            lag=0,
            consumer_lag=0,
        )
    return Result.done(
        "lag reached zero: every running group read everything on the target and the reverse "
        "flow copied every record to the source",
        lag=0,
    )


def target_consumers_stopped(ctx: Context) -> Result:
    if broken := back_holds(ctx):
        return broken
    states = describe_groups(ctx.target, ctx.migration.groups)
    active = {g: m for g, (_s, m) in states.items() if m}
    if active:
        return Result.waiting(
            "stop these consumers on the target: "
            + ", ".join(f"{g} ({m} member(s))" for g, m in sorted(active.items()))
        )
    return Result.done(f"{len(states)} group(s) empty on the target")


def plan_handback(ctx: Context) -> list[GroupHandover]:
    """Per group and partition: the source offset its target offset hands back to, and how it
    was found (see the module's docstring). Rows are in the forward handover's terms with the
    sides swapped: `topic` is the target's, `target_topic` the source's."""
    groups = ctx.migration.groups
    committed = committed_offsets(ctx.target, groups)
    cut_target, cut_source = reverse.starts(ctx), checks.quiet_ends(ctx)
    tps = sorted(cut_target)
    target_end, source_end = end_offsets(ctx.target, tps), end_offsets(ctx.source, tps)
    gapless = {tp: source_end[tp] - cut_source[tp] == target_end[tp] - cut_target[tp] for tp in tps}
    recorded = {
        (g, (t, int(p))): (int(s), t_off)
        for g, rows in (ctx.state.handover_offsets or {}).items()
        for t, p, s, t_off in rows
    }
    matched: dict | None = None
    plans = []
    for group in groups:
        plan = GroupHandover(group)
        for tp, off in sorted(committed.get(group, {}).items()):
            if tp not in cut_target:
                continue
            at = None
            if off >= cut_target[tp] and gapless[tp]:
                at = cut_source[tp] + off - cut_target[tp]
            elif (rec := recorded.get((group, tp))) and rec[1] == off:
                at = rec[0]
            if at is None:
                if matched is None:
                    matched = {
                        (p.group, (r.topic, r.partition)): r
                        for p in match_handover(
                            ctx.target,
                            ctx.source,
                            ctx.topics,
                            groups,
                            naming=IDENTITY_NAMING,
                            read_committed=True,
                        )
                        for r in p.offsets
                    }
                row = matched.get((group, tp))
                at = row.target_offset if row is not None and row.kind == EXACT else None
            plan.offsets.append(
                OffsetHandover(
                    tp[0],
                    tp[1],
                    off,
                    target_end[tp],
                    tp[0],
                    at,
                    EXACT if at is not None else UNKNOWN,
                )
            )
        plans.append(plan)
    return plans


def handback_preview(ctx: Context) -> dict:
    plans = plan_handback(ctx)
    return {p.group: {"kinds": p.kinds, "duplicates": 0} for p in plans}


def _delete_reverse(ctx: Context) -> None:
    """The reverse flow deleted and gone (recorded first: a restart does not run it again)."""
    if not ctx.state.reverse_deleted:
        ctx.record_side_effect("reverse_deleted", True)
    replicator, flow = ctx.back
    replicator.delete(flow)
    deadline = time.monotonic() + GONE_WAIT
    while not replicator.gone(flow):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the reverse flow's connectors are still there after {GONE_WAIT}s")
        time.sleep(0.2)


def handback_offsets(ctx: Context) -> Result:
    if not ctx.state.reverse_deleted:
        if broken := back_holds(ctx):
            return broken
    elif moved := _target_still_quiet(ctx):  # the reverse flow is gone: nothing copies it
        return Result.failed(
            f"{moved.message} after the reverse flow was deleted: those records are not on the "
            "source; stop that producer, then cancel"
        )
    _delete_reverse(ctx)
    plans = plan_handback(ctx)
    apply_once(ctx.source, plans)
    lifted = ""
    if ctx.state.fence:  # producers are about to write to the source again
        unfence(ctx.source, ctx.state.fence)
        lifted = f"; the source's write fence removed ({len(ctx.state.fence)} DENY binding(s))"
        ctx.store_now("fence", None)
    ends = end_offsets(ctx.source, _tps(ctx))
    ctx.store_now("handback_ends", [[t, p, o] for (t, p), o in sorted(ends.items())])
    kinds: dict[str, int] = {}
    for plan in plans:
        for kind, n in plan.kinds.items():
            kinds[kind] = kinds.get(kind, 0) + n
    ctx.state.handback = {p.group: p.kinds for p in plans}
    return Result.done(
        "reverse flow deleted; offsets handed back for "
        f"{len(plans)} group(s): "
        + (", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "none")
        + lifted,
        kinds=kinds,
    )


def consumers_on_source(ctx: Context) -> Result:
    states = describe_groups(ctx.source, ctx.migration.groups)
    waiting = sorted(g for g, (_s, members) in states.items() if not members)
    if waiting:
        return Result.waiting("start these consumers on the source: " + ", ".join(waiting))
    return Result.done(f"{len(states)} group(s) consuming on the source")


def producers_on_source(ctx: Context) -> Result:
    reference = {(t, int(p)): o for t, p, o in ctx.state.handback_ends or []}
    now = end_offsets(ctx.source, list(reference))
    grown = [tp for tp, off in now.items() if off > reference[tp]]
    if not grown:
        return Result.waiting("start producers on the source: no new record there yet")
    return Result.done(f"producers write to the source ({len(grown)} partition(s) grew)")


def verify_source(ctx: Context) -> Result:
    """The source holds every record of the target (up to the target's quiet end), by count and
    by its last records' content: what was copied back, nothing lost and nothing twice."""
    report = verify(
        ctx.target,
        ctx.source,
        ctx.topics,
        read_committed=True,
        target_read_committed=True,
        source_ends=_quiet(ctx),
        target_ends={(t, int(p)): o for t, p, o in ctx.state.handback_ends or []},
    )
    differences = [
        f"{d.topic}[{d.partition}]: target {d.source_count}, source {d.target_count}"
        + (f", record -{d.mismatch_at} differs" if d.mismatch_at else "")
        for d in report.differences
    ]
    ctx.state.verify = {
        **(ctx.state.verify or {}),
        "back": {"partitions": len(report.partitions), "differences": differences},
    }
    if not report.ok:
        return Result.failed(
            f"{len(differences)} partition(s) differ: " + "; ".join(differences[:5])
        )
    total = sum(p.source_count for p in report.partitions)
    return Result.done(
        f"{len(report.partitions)} partition(s), {total:,} records: the source holds what the "
        "target held, counts and last records match"
    )


def rolled_back(ctx: Context) -> Result:
    ctx.replicator.delete(ctx.flow)  # gone since the cutover; deleting again changes nothing
    if ctx.back is not None:
        replicator, flow = ctx.back
        replicator.delete(flow)
    removed = ""
    if ctx.state.back_fence:
        unfence(ctx.target, ctx.state.back_fence)
        removed = f"; the target's write fence removed ({len(ctx.state.back_fence)} binding(s))"
        ctx.store_now("back_fence", None)
    if ctx.state.fence:
        unfence(ctx.source, ctx.state.fence)
        ctx.store_now("fence", None)
    return Result.done(
        "rolled back: clients are on the source; no MirrorMaker 2 connector left in either "
        "direction" + removed
    )


ACTIONS = {
    Step.TARGET_PRODUCERS_STOPPED: target_producers_stopped,
    Step.REVERSE_DRAIN: reverse_drain,
    Step.TARGET_CONSUMERS_STOPPED: target_consumers_stopped,
    Step.HANDBACK_OFFSETS: handback_offsets,
    Step.CONSUMERS_ON_SOURCE: consumers_on_source,
    Step.PRODUCERS_ON_SOURCE: producers_on_source,
    Step.VERIFY_SOURCE: verify_source,
    Step.ROLLED_BACK: rolled_back,
}
GATE_CONDITIONS = {Step.REPOINT_TO_SOURCE: back_holds}
