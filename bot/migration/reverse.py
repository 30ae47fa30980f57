"""The reverse flow (target -> source), from the repoint to the end of the soak.

With `reverse_via`, the handover deletes the forward flow first (identity names have no cycle
detection: the two directions never run together), then starts the reverse flow exactly at the
target's end offsets of that moment (`Replicator.start_from`: created without running, start
positions written and read back, then started), before any client is pointed at the target.
Only what clients write on the target from then on is copied back to the source.

During the `soak` the card shows the reverse replication lag and the time left; a write on the
source that did not come from the reverse flow (a forgotten producer) is an alert. It is seen by
counting: the reverse flow copies no more records than the target holds beyond its end at the
cutover, so a source partition that grew by more than that was written by someone else (read
source first, target second: the target only grows). A forgotten producer is not seen while the
reverse flow lags behind it, nor where transaction markers on the target leave room; the
handback then finds it by content (rollback.py).
"""

from __future__ import annotations

import time

from bot.errors import ConfigError, UserError
from bot.kafka.acls import covers, describe_all
from bot.kafka.cluster import TP
from bot.kafka.groups import end_offsets
from bot.kafka.inspect import has_authorizer
from bot.kafka.progress import Progress, replication_progress
from bot.migration.context import Context, Result
from bot.reasons import reason

GONE_WAIT = 30.0  # seconds to wait for the forward connectors to disappear


def check_request(settings, clients, options: dict, source: str) -> None:
    """Before a migration starts: the reverse replicator is configured, answers, and (where
    it can say) writes into the source cluster."""
    name = options.get("reverse_via")
    if not name:
        return
    if name not in settings.config.replicators:
        known = ", ".join(sorted(settings.config.replicators)) or "none"
        raise ConfigError(
            f"reverse_via: no replicator named {name!r} (known: {known})", field="reverse_via"
        )
    replicator = clients.replicator(name)
    try:
        replicator.check()
        writes_into = replicator.kafka_cluster_id()
        expected = None
        if writes_into is not None:
            admin = clients.cluster(source).admin
            expected = admin.describe_cluster(request_timeout=30).result(timeout=30).cluster_id
    except Exception as exc:  # noqa: BLE001 - said to the user as a reason
        raise UserError(
            f"reverse_via: cannot reach the replicator {name}: {reason(exc)}", field="reverse_via"
        ) from None
    if writes_into is not None and writes_into != expected:
        raise UserError(
            f"reverse_via: {replicator.where} writes into Kafka cluster {writes_into}, not the "
            f"source {source} ({expected}): a reverse flow must run on a Connect cluster "
            "attached to the source",
            field="reverse_via",
        )


def principal(settings, options: dict, source: str) -> str | None:
    """The principal the reverse flow writes to the source as, when the configuration says: a
    Connect replicator's `principal`; on Aiven, the user the MM2 service joins the source with
    (its endpoint's, the source cluster's SASL user)."""
    name = options.get("reverse_via")
    conf = settings.config.replicators.get(name) if name else None
    if conf is None:
        return None
    if conf.kind == "connect":
        return conf.principal
    cluster = settings.config.clusters.get(source)
    user = cluster.sasl_username if cluster is not None else None
    return f"User:{user}" if user else None


def preflight(ctx: Context, writer: str | None) -> tuple[list[str], list[str]]:
    """(problems, lines) of the reverse flow (see `findings`)."""
    if ctx.back is None:
        return [], []
    return findings(ctx.back, ctx.source, ctx.topics, writer)


def findings(back, source, topics: list[str], writer: str | None) -> tuple[list[str], list[str]]:
    """(problems, lines) of a reverse flow: the replicator's own findings and whether its
    principal may write the selected topics on the source (an explicit DENY is a problem; no
    ALLOW is a warning: a super user writes anyway, and brokers do not say who they are)."""
    replicator, flow = back
    found = replicator.preflight_findings(flow)
    problems = [f"reverse flow: {f.text}" for f in found if not f.ok]
    lines = [f"reverse flow: {f}" for f in found]
    if writer is None:
        lines.append(
            "reverse flow: warning: its principal is not configured (principal = ... on the "
            "replicator): whether it may write the source topics is not checked"
        )
    elif has_authorizer(source):
        acls = [a for a in describe_all(source) if a.resource == "TOPIC"]
        denied = [
            t
            for t in topics
            if any(
                a.principal in (writer, "User:*")
                and a.permission == "DENY"
                and a.operation in ("WRITE", "ALL")
                and covers(a, {t})
                for a in acls
            )
        ]
        allowed = [
            t
            for t in topics
            if any(
                a.principal in (writer, "User:*")
                and a.permission == "ALLOW"
                and a.operation in ("WRITE", "ALL")
                and covers(a, {t})
                for a in acls
            )
        ]
        if denied:
            problems.append(
                f"reverse flow: {writer} is denied WRITE on the source for " + ", ".join(denied[:5])
            )
        elif len(allowed) < len(topics):
            lines.append(
                f"reverse flow: warning: no ACL lets {writer} write "
                f"{len(topics) - len(allowed)} selected topic(s) on the source (a super "
                "user may write anyway)"
            )
        else:
            lines.append(f"reverse flow: ok: {writer} may write every selected topic")
    return problems, lines


def starts(ctx: Context) -> dict[TP, int]:
    """Where the reverse flow starts: the target's end offsets at the handover."""
    return {(t, int(p)): int(o) for t, p, o in ctx.state.handover_ends or []}


def start(ctx: Context) -> str:
    """Delete the forward flow, wait until its connectors are gone, then start the reverse one
    at the target's end offsets. Recorded before it is applied; a re-run (after a restart)
    leaves a started reverse flow as it is."""
    replicator, flow = ctx.back
    if ctx.state.reverse is None:
        ctx.record_side_effect("reverse", flow.name)
    ctx.replicator.delete(ctx.flow)
    deadline = time.monotonic() + GONE_WAIT
    while not ctx.replicator.gone(ctx.flow):
        if time.monotonic() > deadline:
            raise UserError(
                f"the forward flow's connectors are still there after {GONE_WAIT:.0f}s: the "
                "reverse flow is not started beside them"
            )
        time.sleep(0.2)
    parts = replicator.start_from(flow, starts(ctx))
    return (
        f"; forward flow deleted, reverse flow {', '.join(parts)} started at the target's end "
        f"offsets ({len(starts(ctx))} partition(s))"
    )


def progress(ctx: Context) -> Progress:
    """Reverse replication progress, per target partition: from the start offsets where the
    reverse flow has committed nothing yet."""
    replicator, flow = ctx.back
    begun = starts(ctx)
    found = replicator.replicated_offsets(flow)
    replicated = {tp: s - 1 for tp, s in begun.items() if s > 0}
    replicated.update(found)
    return replication_progress(
        ctx.target,
        replicated,
        list(begun),
        read_committed=True,
        now=ctx.now,
        target=ctx.source,
        naming=flow.naming,
        offsets_problem=getattr(found, "problem", None),
        tails=ctx.observed.tails,
    )


def foreign_writes(ctx: Context) -> dict[TP, int]:
    """Source partitions that grew by more records than the target has beyond its end at the
    cutover: someone else wrote there (by how many records at least)."""
    quiet = {(t, int(p)): int(o) for t, p, o in ctx.state.quiet_offsets or []}
    source_now = end_offsets(ctx.source, list(quiet))  # first: the target only grows after it
    begun = starts(ctx)
    target_now = end_offsets(ctx.target, list(begun))
    return {
        tp: extra
        for tp, cut in quiet.items()
        if tp in begun and (extra := (source_now[tp] - cut) - (target_now[tp] - begun[tp])) > 0
    }


def _left(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m" if minutes else f"{seconds}s"


def record_foreign(ctx: Context) -> dict[TP, int]:
    """The foreign writes seen so far: a lower bound each time (the reverse lag hides some),
    so the largest count per partition is kept, and stored only when it grows (a store moves
    the version on)."""
    found = {(t, int(p)): int(n) for t, p, n in ctx.state.foreign_writes or []}
    grown = {tp: n for tp, n in foreign_writes(ctx).items() if n > found.get(tp, 0)}
    if grown:
        found.update(grown)
        ctx.store_now("foreign_writes", [[t, p, n] for (t, p), n in sorted(found.items())])
    return found


def foreign_text(found: dict[TP, int], counts: bool = True) -> str:
    """What the card says (with the counts), or the alert (said once per set of partitions)."""
    where = ", ".join(
        f"{t}[{p}]" + (f" +{n}" if counts else "") for (t, p), n in sorted(found.items())[:5]
    )
    return (
        f"records written on the source that did not come from the reverse flow: {where} "
        "(a producer still writes to the source: stop it; a rollback hands those partitions "
        "back by record matching)"
    )


def soak(ctx: Context) -> Result:
    """The reverse flow runs for the soak; finalize or rollback end it early."""
    if ctx.back is None:
        return Result.done("no reverse flow (reverse_via): nothing to soak")
    replicator, flow = ctx.back
    seconds = int(ctx.options.get("soak") or 0)
    if not (ctx.state.soak or {}).get("since"):
        ctx.store_now("soak", {"since": ctx.now, "seconds": seconds})
    since = ctx.state.soak["since"]
    status = replicator.status(flow)
    if status.errors:
        return Result.failed(
            "the reverse flow failed: " + "; ".join(status.errors[:3]) + " (retry restarts it)"
        )
    left = since + seconds - ctx.now
    if left <= 0:
        return Result.done(f"soak over after {_left(seconds)}: the migration is final")
    if not status.running:
        return Result.waiting(f"reverse flow not running yet: {status.parts}")
    moved = progress(ctx)
    found = record_foreign(ctx)
    text = (
        f"reverse replication lag {moved.lag:,} records; {_left(left)} of the soak left "
        "(finalize or rollback end it)"
    )
    if found:
        return Result.waiting(
            text + "; " + foreign_text(found),
            lag=moved.lag,
            alert=foreign_text(found, counts=False),
        )
    return Result.waiting(text, lag=moved.lag)


def finalize_condition(_ctx: Context) -> Result | None:
    return None


def rollback_condition(ctx: Context) -> Result | None:
    """The rollback gate opens while the reverse flow runs; it is decided on the reverse lag
    and the foreign writes seen on the source."""
    replicator, flow = ctx.back
    status = replicator.status(flow)
    if status.errors or not status.running:
        return Result.waiting(
            "the reverse flow is not running ("
            + ("; ".join(status.errors[:2]) or str(status.parts))
            + "): a rollback starts only while it copies"
        )
    moved = progress(ctx)
    # read, not stored: storing moves the version on, and approvals of the open gate name the
    # version it opened at (the count moves with the reverse lag while the target is written)
    found = foreign_writes(ctx)
    ctx.observed.figures = {
        "replication_lag": moved.lag,
        "at": ctx.now,
        "foreign_writes": [[t, p, n] for (t, p), n in sorted(found.items())],
    }
    return None


def delete(ctx: Context) -> None:
    """Delete the reverse flow (nothing copies back any more)."""
    if ctx.back is not None and ctx.state.reverse:
        replicator, flow = ctx.back
        replicator.delete(flow)
