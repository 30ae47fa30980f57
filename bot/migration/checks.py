"""Live checks the cutover steps rely on: quiet source, replication lag, consumer lag.

These are measured on the clusters each time they are needed; the stored snapshot is only the
reference the live offsets are compared with.
"""

from __future__ import annotations

from bot.kafka.cluster import TP
from bot.kafka.groups import LagSnapshot, end_offsets, lag_snapshot
from bot.kafka.progress import Progress, replication_progress
from bot.kafka.records import visible_lags
from bot.migration.context import Context


def partitions(ctx: Context) -> list[TP]:
    return [(t, int(p)) for t, p in ctx.state.partitions or []]


def replication(ctx: Context) -> Progress:
    """By MM2's offsets and, where they call a partition behind or say nothing, by content."""
    replicated = ctx.replicator.replicated_offsets(ctx.flow)
    return replication_progress(
        ctx.source,
        replicated,
        partitions(ctx),
        read_committed=ctx.flow.read_committed,
        now=ctx.now,
        target=ctx.target,
        naming=ctx.flow.naming,
        offsets_problem=getattr(replicated, "problem", None),
        tails=ctx.observed.tails,
    )


def consumers(ctx: Context) -> LagSnapshot:
    """Consumer lag in records the groups would still receive (markers and aborted records
    are not lag: see visible_lags)."""
    # after preflight, exactly the groups it chose (none at all is a valid answer)
    groups = ctx.migration.groups if ctx.state.preflight is not None else None
    snapshot = lag_snapshot(ctx.source, topics=ctx.topics, groups=groups)
    return visible_lags(ctx.source, snapshot, read_committed=ctx.flow.read_committed)


def source_ends(ctx: Context) -> dict[TP, int]:
    return end_offsets(ctx.source, partitions(ctx))


def quiet_ends(ctx: Context) -> dict[TP, int]:
    """The source end offsets attested quiet before the cutover."""
    return {(t, int(p)): int(off) for t, p, off in ctx.state.quiet_offsets or []}


def moved_since_quiet(ctx: Context) -> list[TP]:
    """Partitions written since producers were attested stopped (empty: still quiet)."""
    reference = {(t, int(p)): off for t, p, off in ctx.state.quiet_offsets or []}
    now = source_ends(ctx)
    return sorted(tp for tp, off in now.items() if reference.get(tp) != off)


WORST = 5  # the partitions or groups a description names, the furthest behind first


def most(counts: dict, shown: int = WORST) -> str:
    """The largest counts, largest first ("a 9,980, b 9,970 and 245 more"); keys are topic
    partitions (shown t[p]) or names."""
    worst = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    named = ", ".join(
        f"{k[0]}[{k[1]}] {n:,}" if isinstance(k, tuple) else f"{k} {n:,}" for k, n in worst[:shown]
    )
    return named + (f" and {len(worst) - shown:,} more" if len(worst) > shown else "")


def known_lag(progress: Progress) -> int | None:
    """The lag figure for the card, the ETA and the "lag reached zero" notice: None while some
    partition's lag is unknown (a count there would be a guess)."""
    return None if progress.unknown else progress.lag


def signal_of(progress: Progress) -> str:
    """Which signal decided that every partition is copied."""
    content, every = len(progress.by_content), len(progress.partitions)
    if content == every:
        return f"by content on all {every} partition(s)"
    if content:
        return f"by content on {content} of {every} partition(s), MM2's offsets on the rest"
    return "by MM2's offsets"


def describe_progress(progress: Progress) -> str:
    """The lag, and which signal decided it: MM2's offsets, the content of both sides where
    those lag behind, or neither (the offsets are missing: said as a degraded signal with its
    reason, never as a count)."""
    behind = {
        (p.topic, p.partition): p.lag for p in progress.partitions if p.lag and p.signal != "none"
    }
    text = f"replication lag {progress.lag:,} records"
    if behind:
        text += (
            f" on {len(behind):,} partition(s), oldest {progress.max_time_lag_s:.0f}s "
            f"(most behind: {most(behind)})"
        )
    if progress.unknown:
        text += f"; not copied yet by content on {len(progress.unknown)} partition(s)"
    if progress.offsets_problem:
        text += f" (degraded signal: {progress.offsets_problem}; decided by content)"
    elif progress.by_content:
        text += f" (by content on {len(progress.by_content)} partition(s), MM2's offsets lag)"
    else:
        text += " (by MM2's offsets)"
    if progress.gaps:
        text += (
            f"; {sum(p.gap for p in progress.gaps):,} records deleted before copy (gap) "
            f"on {len(progress.gaps):,} partition(s)"
        )
    return text


def describe_idle(idle: dict[str, int]) -> str:
    """The groups behind with no members: not waited for, handed over where they stand."""
    if not idle:
        return ""
    return (
        f"; not waited for: {len(idle):,} group(s) without members, handed over where they "
        f"stand ({most(idle)} behind)"
    )


def describe_consumers(behind: dict[str, int], idle: dict[str, int]) -> str:
    """Consumer lag of the groups with members (what the drain waits for), then the idle ones."""
    if behind:
        text = (
            f"consumer lag: {len(behind):,} group(s) behind, {sum(behind.values()):,} records "
            f"(most behind: {most(behind)})"
        )
    else:
        text = "consumer lag: none"
    return text + describe_idle(idle)
