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
    replicated = ctx.replicator.replicated_offsets(ctx.flow)
    return replication_progress(
        ctx.source, replicated, partitions(ctx), read_committed=ctx.flow.read_committed, now=ctx.now
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


def describe_progress(progress: Progress) -> str:
    behind = [p for p in progress.partitions if p.lag]
    text = f"replication lag {progress.lag:,} records"
    if behind:
        text += f" on {len(behind)} partition(s), oldest {progress.max_time_lag_s:.0f}s"
    if progress.gaps:
        text += f"; {sum(p.gap for p in progress.gaps):,} records deleted before copy (gap)"
    return text
