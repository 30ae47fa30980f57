"""One function per runbook step: do the step's work (idempotently) and say where it stands.

Each returns a Result: done (verified), waiting (condition not met yet), failed (reason), or
regress (a verified condition broke: go back to an earlier step).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace

from bot.aiven.acls import acl_applier, acl_dropper
from bot.kafka import acls as kacls
from bot.kafka import fence as kfence
from bot.kafka import topics as ktopics
from bot.kafka.groups import describe_groups, end_offsets, start_offsets
from bot.kafka.handover import apply_once, plan_handover, read_checkpoints
from bot.kafka.inspect import has_authorizer, inspect
from bot.kafka.records import read_ranges
from bot.kafka.select import excluded_groups
from bot.kafka.verify import verify as kverify
from bot.migration import aiven_steps, checks, quiet, reverse, rollback
from bot.migration import connectors as kconnectors
from bot.migration.context import Context, Result
from bot.migration.ports import Runbook
from bot.migration.steps import Step
from bot.replicators.tasks import TaskSizing
from bot.schemas import migrate as kschemas


def preflight(ctx: Context) -> Result:
    src, tgt = inspect(ctx.source), inspect(ctx.target)
    names = {t.name: t.partitions for t in src.topics}
    missing = [t for t in ctx.topics if t not in names]
    if missing:
        return Result.failed(f"selected topics no longer on the source: {', '.join(missing)}")
    aiven = aiven_steps.preflight(ctx)  # the replicator's own checks (Aiven), if it has them
    if aiven.problem:
        return aiven.problem
    status = ctx.replicator.status(ctx.flow)  # reachable (parts may not exist yet)
    ctx.state.partitions = [[t, p] for t in ctx.topics for p in range(names[t])]
    ends = checks.source_ends(ctx)
    if not ctx.migration.groups:
        readers = sorted(checks.consumers(ctx).groups)
        left_out = excluded_groups(readers, ctx.options.get("groups_exclude", ""))
        ctx.migration.groups = [g for g in readers if g not in left_out]
        ctx.state.groups_excluded = left_out
    warnings = list(aiven.warnings)
    moving = kconnectors.plan(ctx, list(names))
    if moving and moving.problems:
        return Result.failed("; ".join(moving.problems[:5]))
    moved_groups = {m.group for m in moving.sinks} if moving else set()
    sinks = [g for g in ctx.migration.groups if g.startswith("connect-") and g not in moved_groups]
    if sinks:
        warnings.append(
            f"Kafka Connect sink groups {', '.join(sinks)}: their connectors stay where they "
            "are unless the migration names connect_from= and connect_to= (then they move)"
        )
    if moving:
        warnings.extend(moving.warnings)
    if src.authorizer and tgt.authorizer is False:
        warnings.append("the source enforces ACLs, the target has no authorizer")
    back_problems, back_lines = reverse.preflight(ctx, ctx.options.get("reverse_principal"))
    if back_problems:
        return Result.failed("; ".join(back_problems[:5]))
    warnings.extend(line.split("warning: ", 1)[1] for line in back_lines if "warning: " in line)
    ctx.state.preflight = {
        "source": {"kafka": src.kafka_version, "brokers": len(src.brokers)},
        "target": {"kafka": tgt.kafka_version, "brokers": len(tgt.brokers)},
        "replicator": status.parts,
        "warnings": warnings,
        **({"aiven": aiven.lines} if aiven.lines else {}),
    }
    left_out = ctx.state.groups_excluded or []
    excluded = (
        f"; left out on request ({ctx.options.get('groups_exclude_reason')}): "
        + ", ".join(left_out)
        if left_out
        else ""
    )
    return Result.done(
        f"source Kafka {src.kafka_version}, target Kafka {tgt.kafka_version}; "
        f"{len(ctx.topics)} topic(s), {len(ends)} partition(s), "
        f"{sum(ends.values()):,} offsets; {len(ctx.migration.groups)} consumer group(s)"
        + excluded
        + ("; warnings: " + "; ".join(warnings) if warnings else "")
        + aiven.report()
        + ("".join(f"\n• connector {line}" for line in moving.lines()) if moving else "")
        + "".join(f"\n• {line}" for line in back_lines),
        warnings=warnings,
        groups_excluded=left_out,
        groups_exclude_reason=ctx.options.get("groups_exclude_reason") if left_out else None,
        **({"aiven": aiven.lines} if aiven.lines else {}),
    )


def prepare_target(ctx: Context) -> Result:
    if waiting := aiven_steps.prepare(ctx):  # an MM2 service not RUNNING yet (Aiven)
        return waiting
    described = ctx.target.admin.describe_cluster(request_timeout=30).result(timeout=30)
    return Result.done(
        f"target {described.cluster_id} answers with {len(described.nodes)} broker(s)"
    )


def _record_created(ctx: Context, key: str, items: list) -> None:
    """What this migration is about to create on the target (a cleanup=target deletes exactly
    that), added to what earlier runs of the step recorded."""
    known = getattr(ctx.state, key) or []
    new = [i for i in items if i not in known]
    if new:
        ctx.record_side_effect(key, known + new)


def create_topics(ctx: Context) -> Result:
    plan = ktopics.plan_topics(
        ctx.source,
        ctx.target,
        ctx.topics,
        naming=ctx.flow.naming,
        allow_config_changes=bool(ctx.options.get("allow_config_changes")),
    )
    if plan.problems:
        return Result.failed("; ".join(plan.problems[:5]))
    _record_created(ctx, "created_topics", [i.target for i in plan.items if "create" in i.actions])
    # a look again (the target still creating partitions) finds them all there: the topics
    # this migration created are the ones it recorded
    summary = {**plan.summary(), "create": len(ctx.state.created_topics or [])}
    ktopics.apply_topics(ctx.target, plan)
    waiting, why = ktopics.unready(ctx.target, plan)
    if waiting:  # the next steps list offsets on every partition: not before each answers
        return Result.waiting(
            f"the target is creating its partitions: {waiting:,} not served yet ({why})"
        )
    forced = {i.target: i.forced for i in plan.items if i.forced}
    return Result.done(
        f"{summary['create']} created, {summary['add_partitions']} grown, "
        f"{summary['alter_configs']} reconfigured, {summary['topics']} in total"
        + (f"; the target forced {forced}" if forced else ""),
        **summary,
    )


def migrate_schemas(ctx: Context) -> Result:
    if ctx.registries is None:
        return Result.done("no schema registry named for this migration: nothing to migrate")
    plan, applied, broken = schema_parity(ctx)
    counts = plan.summary()
    text = (
        f"{counts['subjects']} subject(s), {counts['versions']} version(s): "
        f"{len(applied.registered)} registered "
        + ("with their source ids (IMPORT mode)" if applied.imported else "(no IMPORT mode)")
        + f", {counts['present']} already there"
    )
    if held := [i for i in plan.soft_deleted if i.action != "conflict"]:
        text += (
            f"; {len(held)} soft-deleted version(s) carried with their ids and soft-deleted on "
            "the target: their ids are held (old records decode, no new schema takes them)"
        )
    if plan.hard_deleted:
        text += f"; {len(plan.hard_deleted)} version(s) hard-deleted on the source: " + ", ".join(
            f"{s} v{n}" for s, n in plan.hard_deleted[:5]
        )
    unknown = _ids_the_source_lost(ctx)
    if unknown:
        text += "; records name schema ids the source registry no longer has (hard-deleted: " + (
            "no consumer decodes them, on either side): "
            + "; ".join(f"id {i} in {', '.join(where[:3])}" for i, where in unknown.items())
        )
    if broken:
        text += (
            f"; ids differ for {len(broken)}: " + "; ".join(broken[:3]) + " — the cutover gates "
            "stay closed until they match"
        )
    return Result.done(text, schemas=counts, parity=broken[:20])


def _ids_the_source_lost(ctx: Context) -> dict[int, list[str]]:
    """Schema ids named by the first and last records of each source partition that the source
    registry itself no longer resolves (their schemas were hard-deleted), with where they are."""
    ends = checks.source_ends(ctx)
    starts = start_offsets(ctx.source, list(ends))
    first = {tp: (starts[tp], min(starts[tp] + SAMPLE, end)) for tp, end in ends.items()}
    last = {tp: (max(end - SAMPLE, first[tp][1]), end) for tp, end in ends.items()}
    where: dict[int, set[str]] = {}
    for ranges in (first, last):
        for (topic, partition), ids in _schema_ids_in(ctx.source, ranges)[1].items():
            for schema_id in ids:
                where.setdefault(schema_id, set()).add(f"{topic}[{partition}]")
    lost = {i: sorted(where[i]) for i in kschemas.unknown_ids(ctx.registries[0], where)}
    ctx.state.schemas["lost_ids"] = {str(i): at for i, at in lost.items()}
    return lost


def _schema_ids_in(cluster, ranges: dict) -> tuple[int, dict[tuple[str, int], set[int]]]:
    """(records read, the schema ids that the records of each partition name)."""
    ids: dict[tuple[str, int], set[int]] = {}
    seen = [0]

    def collect(msg) -> None:
        seen[0] += 1
        named = kschemas.schema_ids([msg.key(), msg.value()])
        ids.setdefault((msg.topic(), msg.partition()), set()).update(named)

    read_ranges(cluster, ranges, each=collect, read_committed=True)
    return seen[0], ids


def schema_parity(ctx: Context):
    """Plan the schemas now, create what is missing (ids preserved where the target allows it,
    its own wrong-id versions imported again), and check id parity. Returns (plan, applied,
    what differs)."""
    source, target = ctx.registries
    plan = kschemas.plan_schemas(
        source, target, ctx.topics, strategy=source.subject_strategy, extra=source.extra_subjects
    )
    applied = kschemas.apply_schemas(
        target,
        plan,
        lambda created: ctx.record_side_effect("created_schemas", created),
        ctx.state.created_schemas,
    )
    broken = kschemas.parity(source, target, plan)
    lost = (ctx.state.schemas or {}).get("lost_ids", {})  # scanned once, by migrate_schemas
    ctx.state.schemas = {
        "subjects": plan.subjects,
        "summary": plan.summary(),
        "imported": applied.imported,
        "soft_deleted": [
            f"{i.source.subject} v{i.source.version} id {i.source.id}" for i in plan.soft_deleted
        ],
        "hard_deleted": [f"{s} v{n}" for s, n in plan.hard_deleted],
        "parity": broken[:20],
        "lost_ids": lost,
    }
    return plan, applied, broken


def _schema_gate(ctx: Context) -> Result | None:
    """A cutover gate stays closed while a schema id differs on the target (checked live, with
    what was registered on the source since)."""
    if ctx.registries is None:
        return None
    _plan, _applied, broken = schema_parity(ctx)
    if not broken:
        return None
    return Result.failed(
        f"schema ids differ on the target for {len(broken)} version(s) ("
        + "; ".join(broken[:3])
        + (f"; and {len(broken) - 3} more" if len(broken) > 3 else "")
        + f"): {kschemas.FIXES}"
    )


def migrate_acls(ctx: Context) -> Result:
    if not has_authorizer(ctx.source):
        return Result.done("the source has no authorizer: no ACLs to migrate")
    if has_authorizer(ctx.target) is False:
        return Result.failed("the target has no authorizer: cannot create ACLs there")
    plan = kacls.plan_acls(
        ctx.source,
        ctx.target,
        ctx.topics,
        ctx.migration.groups,
        principal_map=kacls.parse_principal_map(ctx.options.get("principals", "")),
        naming=ctx.flow.naming,
    )
    _record_created(ctx, "created_acls", [list(vars(a).values()) for a in plan.missing])
    created = acl_applier(ctx.target)(ctx.target, plan)  # Aiven's ACL API on an Aiven target
    lost = plan.mm2_lost
    bindings = kacls.binding_report(plan, created)
    return Result.done(
        f"{len(plan.exported):,} ACL(s) on the selection, {len(created):,} created, "
        f"{len(plan.present) - len(created):,} already there; MM2's own sync would have dropped "
        f"or downgraded {len(lost):,}" + listed(bindings),
        bindings=bindings,
        exported=len(plan.exported),
        created=len(created),
        mm2_lost=len(lost),
    )


def listed(lines: list[str], budget: int = 2000, most: int = 40) -> str:
    """Lines for a message in the thread (Slack shows 3,000 characters of it): whole lines
    within `budget`, at most `most`, the others counted (`kafka-migrate report ID --json`
    has them all, in the timeline)."""
    out, used = [], 0
    for line in lines[:most]:
        if used + len(line) + 3 > budget:
            break
        out.append(f"\n• {line}")
        used += len(line) + 3
    more = len(lines) - len(out)
    return "".join(out) + (f"\n• and {more:,} more" if more else "")


STARTING_LOOKS = 12
SAMPLE = 20  # records read per partition end to check the schema ids they name


def start_replication(ctx: Context) -> Result:
    sizing = _tasks(ctx)
    if ctx.state.replication is None:  # cancel deletes it, even if we die while creating it
        ctx.record_side_effect("replication", ctx.flow.name)
    parts = ctx.replicator.ensure(ctx.flow)
    status = ctx.replicator.status(ctx.flow)
    for _ in range(STARTING_LOOKS):  # new connectors run within a second or two: look again
        if status.running or status.errors:  # now rather than a whole poll later
            break
        time.sleep(0.25)
        status = ctx.replicator.status(ctx.flow)
    if status.errors:
        return Result.failed("; ".join(status.errors[:3]))
    if not status.running:
        return Result.waiting(f"replicator starting: {status.parts}")
    tasks = f" ({sizing})" if sizing else ""
    return Result.done(f"MirrorMaker 2 running: {', '.join(parts)}{tasks}", parts=parts)


def _tasks(ctx: Context) -> TaskSizing | None:
    """The flow's tasks.max, decided the first time (the source partitions, the replicator's
    workers) and stored before the connectors are made, so that every later ensure, a restart
    or a retry writes the same figure: a worker lost or added never rewrites the connector."""
    if ctx.state.tasks is None:
        sizing = ctx.replicator.size_tasks(len(checks.partitions(ctx)))
        if sizing is None:
            return None
        ctx.store_now("tasks", sizing.dump())
    sizing = TaskSizing.load(ctx.state.tasks)
    ctx.flow = replace(ctx.flow, tasks_max=sizing.tasks_max)
    return sizing


def catch_up(ctx: Context) -> Result:
    progress = checks.replication(ctx)
    text = checks.describe_progress(progress)
    if progress.lag <= ctx.timing.ready_lag_records and not progress.unknown:
        return Result.done(f"ready for cutover: {text}", lag=progress.lag)
    copied = sum(p.replicated_to or 0 for p in progress.partitions)
    return Result.waiting(text, lag=checks.known_lag(progress), copied=copied)


def _replication_regressed(ctx: Context, above: int, to_step: Step, words: str) -> Result | None:
    progress = checks.replication(ctx)
    ctx.observed.figures = {"replication_lag": progress.lag, "at": ctx.now}
    if progress.lag > above or progress.unknown:
        text = f"{words}: {checks.describe_progress(progress)}"
        return Result.regress(to_step, text, lag=checks.known_lag(progress))
    return None


def stop_producers_condition(ctx: Context) -> Result | None:
    """The stop_producers gate stays open only while replication keeps up and schema ids
    match (no downtime starts with a known problem)."""
    return _replication_regressed(
        ctx, ctx.timing.ready_lag_records, Step.CATCH_UP, "replication fell behind"
    ) or _schema_gate(ctx)


def producers_stopped(ctx: Context) -> Result:
    if stopping := kconnectors.stop_old(ctx, "source"):  # source connectors are producers
        return stopping
    if ctx.options.get("fence") and ctx.state.fence is None:
        fence = kfence.plan_fence(ctx.source, ctx.topics, ctx.options.get("fence_allow", []))
        ctx.record_side_effect("fence", [list(vars(b).values()) for b in fence.bindings])
        kfence.apply_fence(ctx.source, fence)
    if ctx.observed.watch is None:
        ctx.observed.watch = quiet.new_watch(ctx, ctx.source, ctx.state.fence)
        if ctx.observed.watch is None:
            return Result.waiting(quiet.waiting_text(ctx, None, ctx.state.fence))
    ends = checks.source_ends(ctx)
    state = ctx.observed.watch.observe(ends, ctx.now)
    if not state.quiet:
        return Result.waiting(quiet.waiting_text(ctx, state, ctx.state.fence))
    ctx.state.quiet_offsets = [[t, p, off] for (t, p), off in sorted(ends.items())]
    return Result.done(
        quiet.done_text(ctx, state, len(ends), ctx.state.fence) + kconnectors.summary(ctx, "source")
    )


def _still_quiet(ctx: Context) -> Result | None:
    moved = checks.moved_since_quiet(ctx)
    if moved:
        ctx.observed.watch = None
        ctx.observed.drain_since = None
        where = ", ".join(f"{t}[{p}]" for t, p in moved[:5])
        return Result.regress(Step.PRODUCERS_STOPPED, f"a producer wrote again ({where})")
    return None


def drain(ctx: Context) -> Result:
    if regress := _still_quiet(ctx):
        return regress
    progress = checks.replication(ctx)
    snapshot = checks.consumers(ctx)
    # only groups that have members are waited for; a group without members that is behind
    # is handed over where it stands (see handover) and listed, never waited for
    behind = {g: lag.lag for g, lag in snapshot.groups.items() if lag.lag and lag.members}
    idle = {g: lag.lag for g, lag in snapshot.groups.items() if lag.lag and not lag.members}
    left = checks.describe_idle(idle)
    consumer_lag = sum(behind.values())
    if not progress.caught_up or behind:
        ctx.observed.drain_since = None
        return Result.waiting(
            f"{checks.describe_progress(progress)}; {checks.describe_consumers(behind, idle)}",
            lag=checks.known_lag(progress),
            consumer_lag=consumer_lag,
        )
    if ctx.observed.drain_since is None:
        ctx.observed.drain_since = ctx.now
    held = ctx.now - ctx.observed.drain_since
    if held < ctx.timing.drain_window_seconds:
        return Result.waiting(
            f"both lags 0 for {held:.0f}s of {ctx.timing.drain_window_seconds}s{left}",
            lag=0,
            consumer_lag=0,
        )
    return Result.done(
        "lag reached zero: every running group read everything and MirrorMaker 2 copied every "
        f"record ({checks.signal_of(progress)}){left}",
        lag=0,
        idle_groups=idle,
    )


def cutover_holds(ctx: Context) -> Result | None:
    """After drain: the source is still quiet and both lags are still 0 (checked live)."""
    if regress := _still_quiet(ctx):
        return regress
    return _replication_regressed(ctx, 0, Step.DRAIN, "replication lag is back")


def repoint_condition(ctx: Context) -> Result | None:
    """The repoint gate: the cutover still holds, and consumers on the target will decode
    every record (schema ids match)."""
    return cutover_holds(ctx) or _schema_gate(ctx)


def consumers_stopped(ctx: Context) -> Result:
    if broken := cutover_holds(ctx):
        return broken
    if stopping := kconnectors.stop_old(ctx, "sink"):  # sink connectors are consumers
        return stopping
    states = describe_groups(ctx.source, ctx.migration.groups)
    active = {g: m for g, (_s, m) in states.items() if m}
    if active:
        return Result.waiting(
            "stop these consumers on the source: "
            + ", ".join(f"{g} ({m} member(s))" for g, m in sorted(active.items()))
        )
    kconnectors.create_copies(ctx)  # STOPPED on the target's Connect, offsets copied
    return Result.done(f"{len(states)} group(s) empty on the source" + kconnectors.summary(ctx))


def _handover_plans(ctx: Context):
    return plan_handover(
        ctx.source,
        ctx.target,
        ctx.topics,
        ctx.migration.groups,
        naming=ctx.flow.naming,
        checkpoints=read_checkpoints(ctx.target, ctx.flow.naming),
        read_committed=ctx.flow.read_committed,
    )


def repoint_preview(ctx: Context) -> dict:
    """Before the repoint approval: which groups move exactly, and what the others will see
    (on the way back: how each group's offsets will be handed back)."""
    if ctx.migration.step == Step.REPOINT_TO_SOURCE:
        return rollback.handback_preview(ctx)
    plans = _handover_plans(ctx)
    return {
        p.group: {"kinds": p.kinds, "duplicates": sum(r.duplicates for r in p.offsets)}
        for p in plans
    }


def handover_offsets(ctx: Context) -> Result:
    if ctx.state.reverse is None:
        if broken := cutover_holds(ctx):
            return broken
    elif moved := checks.moved_since_quiet(ctx):  # the forward flow is gone: no way to regress
        return Result.failed(
            "a producer wrote to the source after the forward flow was deleted ("
            + ", ".join(f"{t}[{p}]" for t, p in moved[:5])
            + "): those records are not on the target; stop it, then cancel and start again"
        )
    plans = _handover_plans(ctx)
    apply_once(ctx.target, plans)
    target_tps = [ctx.flow.naming.target_partition(tp) for tp in checks.partitions(ctx)]
    if ctx.state.handover_ends is None or ctx.state.reverse is None:
        ends = end_offsets(ctx.target, target_tps)
        ctx.store_now("handover_ends", [[t, p, o] for (t, p), o in sorted(ends.items())])
    ctx.state.handover_offsets = {
        p.group: [[r.topic, r.partition, r.source_committed, r.target_offset] for r in p.offsets]
        for p in plans
    }
    started = reverse.start(ctx) if ctx.back else ""
    kinds: dict[str, int] = {}
    for plan in plans:
        for kind, n in plan.kinds.items():
            kinds[kind] = kinds.get(kind, 0) + n
    ctx.state.handover = {p.group: p.kinds for p in plans}
    return Result.done(
        f"offsets written for {len(plans)} group(s): "
        + ", ".join(f"{n} {k}" for k, n in sorted(kinds.items()))
        + started,
        kinds=kinds,
    )


def consumers_on_target(ctx: Context) -> Result:
    if starting := kconnectors.start_new(ctx, "sink"):
        return starting
    states = describe_groups(ctx.target, ctx.migration.groups)
    waiting = sorted(g for g, (_s, members) in states.items() if not members)
    if waiting:
        return Result.waiting("start these consumers on the target: " + ", ".join(waiting))
    return Result.done(
        f"{len(states)} group(s) consuming on the target" + kconnectors.summary(ctx, "sink")
    )


def producers_on_target(ctx: Context) -> Result:
    if starting := kconnectors.start_new(ctx, "source"):
        return starting
    reference = {(t, int(p)): o for t, p, o in ctx.state.handover_ends or []}
    now = end_offsets(ctx.target, list(reference))
    grown = [tp for tp, off in now.items() if off > reference[tp]]
    if not grown:
        return Result.waiting("start producers on the target: no new record there yet")
    return Result.done(
        f"producers write to the target ({len(grown)} partition(s) grew)"
        + kconnectors.summary(ctx, "source")
    )


def verify(ctx: Context) -> Result:
    handover = {(t, int(p)): o for t, p, o in ctx.state.handover_ends or []}
    report = kverify(
        ctx.source,
        ctx.target,
        ctx.topics,
        naming=ctx.flow.naming,
        read_committed=ctx.flow.read_committed,
        target_ends=handover or None,
        source_ends=checks.quiet_ends(ctx) if ctx.state.reverse else None,
    )
    ctx.state.verify = {
        "partitions": len(report.partitions),
        "differences": [
            f"{d.topic}[{d.partition}]: source "
            f"{d.source_count}, target {d.target_count}"
            + (f", record -{d.mismatch_at} differs" if d.mismatch_at else "")
            for d in report.differences
        ],
    }
    if not report.ok:
        return Result.failed(
            f"{len(report.differences)} partition(s) differ: "
            + "; ".join(ctx.state.verify["differences"][:5])
        )
    total = sum(p.source_count for p in report.partitions)
    schema_ids = _verify_schema_ids(ctx, handover)
    if schema_ids and not schema_ids.ok:
        return Result.failed(str(schema_ids))
    return Result.done(
        f"{len(report.partitions)} partition(s), {total:,} records: counts and last records match"
        + (f"; {schema_ids}" if schema_ids else "")
    )


@dataclass(frozen=True)
class SchemaIdSample:
    """The schema ids named by the records sampled on the target, and those of them that
    resolve to another schema on the target registry than on the source's."""

    sampled: int  # records read
    ids: list[int]
    differ: list[str]  # one line per id that differs

    @property
    def ok(self) -> bool:
        return not self.differ

    def __str__(self) -> str:
        if self.differ:
            return "schema ids in target records resolve differently: " + "; ".join(self.differ[:5])
        return (
            f"{self.sampled} sampled record(s) name {len(self.ids)} schema id(s), each the same "
            "schema there"
        )


def _verify_schema_ids(ctx: Context, ends: dict) -> SchemaIdSample | None:
    """Sample the last records of each target partition: do the schema ids they name resolve
    to the same schema on both registries? None: no registries named, or nothing to read."""
    if ctx.registries is None or not ends:
        return None
    seen, found = _schema_ids_in(
        ctx.target, {tp: (max(end - SAMPLE, 0), end) for tp, end in ends.items()}
    )
    ids: set[int] = set().union(*found.values())
    sample = SchemaIdSample(seen, sorted(ids), kschemas.same_schemas(*ctx.registries, ids))
    ctx.state.verify["schema_ids"] = asdict(sample)
    return sample


def complete(ctx: Context) -> Result:
    ctx.replicator.delete(ctx.flow)  # the flow is over: clients read and write the target
    reverse.delete(ctx)  # and so is the way back
    return Result.done(
        "migration complete; MirrorMaker 2 connectors deleted"
        + ("; the reverse flow deleted: the way back is closed" if ctx.state.reverse else "")
        + (
            "; the moved connectors run on the target's Connect, the old ones stay STOPPED"
            if (ctx.state.connectors or {}).get("moves")
            else ""
        )
        + (
            "; the source write fence stays in place (producers belong on the target now)"
            if ctx.state.fence is not None
            else ""
        )
    )


unfence = rollback.unfence


def drop_topics(target, names: list[str]) -> None:
    ktopics.delete_topics(target, names)


def drop_acls(target, bindings: list[list[str]]) -> None:
    drop = acl_dropper(target)  # Aiven's ACL API on an Aiven target
    drop(target, [kacls.Acl(*b) for b in bindings], "delete migrated ACLs")


ACTIONS = {
    Step.PREFLIGHT: preflight,
    Step.PREPARE_TARGET: prepare_target,
    Step.CREATE_TOPICS: create_topics,
    Step.MIGRATE_SCHEMAS: migrate_schemas,
    Step.MIGRATE_ACLS: migrate_acls,
    Step.START_REPLICATION: start_replication,
    Step.CATCH_UP: catch_up,
    Step.PRODUCERS_STOPPED: producers_stopped,
    Step.DRAIN: drain,
    Step.CONSUMERS_STOPPED: consumers_stopped,
    Step.HANDOVER_OFFSETS: handover_offsets,
    Step.CONSUMERS_ON_TARGET: consumers_on_target,
    Step.PRODUCERS_ON_TARGET: producers_on_target,
    Step.VERIFY: verify,
    Step.SOAK: reverse.soak,
    Step.COMPLETE: complete,
    **rollback.ACTIONS,
}
# what must still hold while a gate waits for people
GATE_CONDITIONS = {
    Step.STOP_PRODUCERS: stop_producers_condition,
    Step.REPOINT_CLIENTS: repoint_condition,
    Step.FINALIZE: reverse.finalize_condition,
    Step.ROLLBACK: reverse.rollback_condition,
    **rollback.GATE_CONDITIONS,
}

KAFKA_RUNBOOK = Runbook(ACTIONS, GATE_CONDITIONS, repoint_preview, unfence, drop_topics, drop_acls)
