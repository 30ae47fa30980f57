"""Producers proven stopped, on either side of the cutover.

With a write fence (fence=yes) whose DENY bindings the brokers show, a write is refused: only
what a broker accepted a moment before can still land, so end offsets that stay put over a few
fast looks (Timing.fenced_quiet_looks, at the cutover's pace) prove the stop in seconds.
Without one, nothing refuses a producer that writes rarely: the quiet window (no write for
Timing.quiet_window_seconds) stays the safety margin, and the card says so. A fence with no
binding (no principal holds a WRITE grant: super users write, and are never fenced) proves
nothing either.
"""

from __future__ import annotations

from bot.kafka import fence as kfence
from bot.kafka.acls import Acl
from bot.kafka.cluster import Cluster
from bot.kafka.fence import ProducerWatch, QuietState
from bot.migration.context import Context


def bindings_of(stored: list | None) -> list[Acl]:
    return [Acl(*b) for b in stored or []]


def new_watch(ctx: Context, cluster: Cluster, stored: list | None) -> ProducerWatch | None:
    """A watch for this side; None while the fence's bindings are not visible yet."""
    bindings = bindings_of(stored)
    if not bindings:
        return ProducerWatch(ctx.timing.quiet_window_seconds)
    if not kfence.fence_visible(cluster, bindings):
        return None
    return ProducerWatch(ctx.timing.quiet_window_seconds, looks=ctx.timing.fenced_quiet_looks)


def waiting_text(ctx: Context, state: QuietState | None, stored: list | None) -> str:
    if state is None:
        return f"write fence applied ({len(stored or [])} DENY binding(s)), not visible yet"
    moved = f"; written since last look: {len(state.moved)} partition(s)" if state.moved else ""
    window = ctx.timing.quiet_window_seconds
    if stored:
        return (
            f"fenced ({len(stored)} DENY binding(s) visible): end offsets unchanged over "
            f"{state.looks} of {ctx.timing.fenced_quiet_looks} looks{moved}"
        )
    margin = (
        "the fence has no binding (no principal holds a WRITE grant)"
        if ctx.options.get("fence")
        else "no write fence"
    )
    return (
        f"no write for {state.quiet_for_s:.0f}s of {window}s{moved} ({margin}: this window is "
        "the safety margin against a producer that writes rarely; fence=yes refuses writes and "
        "proves the stop in seconds)"
    )


def done_text(ctx: Context, state: QuietState, partitions: int, stored: list | None) -> str:
    if stored and state.looks >= ctx.timing.fenced_quiet_looks:
        return (
            f"fenced ({len(stored)} DENY binding(s) visible) and no write on {partitions} "
            f"partition(s) over {state.looks} looks ({state.quiet_for_s:.0f}s)"
        )
    return f"no write on {partitions} partition(s) for {ctx.timing.quiet_window_seconds}s"
