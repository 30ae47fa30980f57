"""Benchmark: one migration of a large estate through the engine, step by step, with figures.

On the real sandbox (its own, started with 2 Connect workers, or reused: --sandbox-dir /
KAFKA_MIGRATE_SANDBOX_DIR, best started with `kafka-migrate sandbox up --connect-workers 2`),
the source gets --topics x --partitions partitions of --records small records each, --groups
consumer groups without members (half caught up, a quarter part-way, a quarter stale: see
bench/scale_seed.py) and --acls ACL bindings, made in a process of its own. Then ONE migration
of all of it, through the engine in this process (the sandbox's config, poll and cutover
polls 1 s, ready_lag_records=0, quiet window 5 s, no fence): `plan`, then every tick called
here, as the scheduler calls it, the gates approved here (as the CLI does), the people's steps
consumers_on_target and producers_on_target skipped with a reason (no client runs here),
through verify and complete. Each tick is measured in wall time and CPU time (the process's
own, librdkafka's threads included).

Prints each figure with its target: plan <= 10 s, create_topics <= 60 s, migrate_acls, the
polling ticks' p50/p99 (wall, CPU) <= 1 s, the drain tick (reads every group) <= 3 s, the
handover of every group <= 30 s, verify <= 60 s, and the peak RSS of this process (the engine
runs here; the estate was made by another process) <= 300 MB. Then checks that every group was
handed over where it stood (identity policy: the target offsets are the source's). Deletes its
topics, groups, connectors and ACL bindings on both clusters at the end.

    .venv/bin/python -m bench.scale [--sandbox-dir DIR] [--topics 2000] [--partitions 5]
        [--groups 1000] [--acls 200] [--records 4]
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import httpx

from bench import scale_seed
from bot import config
from bot import sandbox as sandbox_mod
from bot.db import open_database
from bot.dbmigrations import init_db
from bot.kafka.cluster import Cluster
from bot.kafka.groups import committed_offsets
from bot.migration import actions, view
from bot.migration.engine import Engine
from bot.migration.grammar import parse_start
from bot.migration.notify import LogNotifier
from bot.migration.ports import Runbook
from bot.migration.steps import INFO, Kind, Step
from bot.migration.store import Store

APPROVER = "U0BOB"
SETTINGS = f"""
[timing]
poll_interval_seconds = 1
cutover_poll_seconds = 1
quiet_window_seconds = 5
drain_window_seconds = 0
ready_lag_records = 0

[slack]
channel = "C0BENCH"
approvers = ["{APPROVER}"]
"""
PEOPLE = (Step.CONSUMERS_ON_TARGET, Step.PRODUCERS_ON_TARGET)  # skipped: no client runs here
TARGETS = {  # seconds (MB for rss)
    "plan": 10,
    "create_topics": 60,
    "tick p99": 1,
    "drain tick": 3,
    "handover": 30,
    "verify": 60,
    "peak RSS": 300,
}


Calls = dict[str, list[tuple[float, float, float]]]  # per step, gate, preview: (at, wall, CPU)


def timed(runbook: Runbook, calls: Calls) -> Runbook:
    """The real runbook, each action, gate condition and the repoint preview timed per call:
    a tick may run several steps, and these say which of them took the time."""

    def wrap(name: str, fn):
        def run(ctx):
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                return fn(ctx)
            finally:
                spent = (wall, time.perf_counter() - wall, time.process_time() - cpu)
                calls.setdefault(name, []).append(spent)

        return run

    return replace(
        runbook,
        actions={s: wrap(str(s), a) for s, a in runbook.actions.items()},
        conditions={s: wrap(f"{s} (open)", c) for s, c in runbook.conditions.items()},
        preview=wrap("repoint preview", runbook.preview),
    )


def engine_of(box, root: Path, calls: Calls) -> tuple[Engine, Store]:
    base = box.config_file.read_text()
    (root / "kafka-migrate.toml").write_text(base[: base.index("[timing]")] + SETTINGS)
    (root / "sandbox.env").write_text((box.dir / "sandbox.env").read_text())
    db = open_database(f"sqlite:///{root / 'km.db'}")
    init_db(db)
    store = Store(db)
    settings = config.load(str(root / "kafka-migrate.toml"))
    runbook = timed(actions.KAFKA_RUNBOOK, calls)
    return Engine(settings, store, LogNotifier(), runbook=runbook), store


def drive(engine: Engine, store: Store, migration_id: str, timeout: float) -> list[tuple]:
    """Tick the migration to its end as the scheduler does (a poll apart while it waits);
    approve its gates and skip the people's steps. Each tick: (step, next step, wall, CPU)."""
    ticks = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = store.get(migration_id)
        if m.status != "active":
            if m.status != "complete":
                raise SystemExit(f"the migration is {m.status}: {m.reason}")
            return ticks
        shown = view.migration_view(store, migration_id)
        if shown.gate_open:
            engine.verbs.decide(m.id, actor=APPROVER, version=m.version, interface="cli")
        elif m.step in PEOPLE:
            engine.verbs.skip(m.id, "bench", "no client runs in the bench")
            continue
        wall, cpu = time.perf_counter(), time.process_time()
        after = engine.mover.tick(migration_id)
        ticks.append((m.step, after.step, time.perf_counter() - wall, time.process_time() - cpu))
        if after.step == m.step and after.status == "active":
            time.sleep(1)  # the poll interval: it waits
    raise SystemExit(f"not complete in {timeout:.0f}s: at {store.get(migration_id).step}")


def pct(values: list[float], q: float) -> float:
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def handed_over_exactly(box, wanted: dict) -> tuple[int, list[str]]:
    """Groups whose target offsets are where they stood on the source (identity policy, fresh
    topics copied from offset 0: the same offsets); the others, named."""
    target = Cluster("target", box.target.client_config())
    written = committed_offsets(target, list(wanted))
    wrong = [g for g, offsets in wanted.items() if written.get(g) != offsets]
    return len(wanted) - len(wrong), wrong


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sandbox-dir", default=os.environ.get("KAFKA_MIGRATE_SANDBOX_DIR"))
    parser.add_argument("--topics", type=int, default=2000)
    parser.add_argument("--partitions", type=int, default=5)
    parser.add_argument("--groups", type=int, default=1000)
    parser.add_argument("--acls", type=int, default=200)
    parser.add_argument("--records", type=int, default=4, help="per partition")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds for the migration")
    args = parser.parse_args()

    own = None if args.sandbox_dir else Path(tempfile.mkdtemp(prefix="bench-sandbox-"))
    box = (
        sandbox_mod.status(args.sandbox_dir)
        if args.sandbox_dir
        else sandbox_mod.up(own, connect_workers=2)
    )
    connect = httpx.Client(base_url=box.connect_url, timeout=30)
    prefix = f"sc{int(time.time()) % 100000:05d}"
    root = Path(tempfile.mkdtemp(prefix="scale-bench-"))
    sizes = (args.topics, args.partitions, args.groups, args.records)
    acls = scale_seed.plan_acls(prefix, args.topics, args.groups, args.acls)
    try:
        began = time.perf_counter()
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            made = pool.apply(
                scale_seed.seed,
                (box.source.client_config(), prefix, *sizes[:3], args.records, args.acls),
            )
        seeded = time.perf_counter() - began
        calls: Calls = {}
        engine, store = engine_of(box, root, calls)
        words = f"{prefix} source=sandbox-source target=sandbox-target topics={prefix}-t-.*"
        request = parse_start(f"{words} via=sandbox-mm2 replication_policy=identity".split())
        began = time.perf_counter()
        engine.verbs.plan(request)
        planned = time.perf_counter() - began
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        m = engine.verbs.start(request, "bench")
        began = time.perf_counter()
        ticks = drive(engine, store, m.id, args.timeout)
        total = time.perf_counter() - began
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        wanted = scale_seed.plan_groups(prefix, *sizes)
        exact, wrong = handed_over_exactly(box, wanted)
        report(args, made, seeded, planned, ticks, calls, total, rss, rss_before, m.id)
        print(
            f"groups handed over where they stood: {exact:,} of {len(wanted):,}"
            + (f"; not: {', '.join(wrong[:5])}" if wrong else "")
        )
    except BaseException:
        print(f"kept the bench's database and config: {root}", file=sys.stderr)
        raise
    else:
        shutil.rmtree(root)
    finally:
        gc.collect()
        scale_seed.cleanup(box, connect, prefix, acls)
        if own:
            sandbox_mod.down(own)
            shutil.rmtree(own, ignore_errors=True)


def verdict(name: str, value: float) -> str:
    target = TARGETS[name]
    unit = "MB" if name == "peak RSS" else "s"
    met = "met" if value <= target else "MISSED"
    return f"{value:.2f} {unit} (target <= {target} {unit}: {met}; ratio {value / target:.2f})"


def last(calls: Calls, name: str) -> tuple[float, float]:
    """(wall, CPU) of the step's last call: the one that found it done."""
    return calls.get(name, [(0, float("nan"), float("nan"))])[-1][1:]


def span(calls: Calls, name: str) -> tuple[float, int]:
    """(seconds from the step's first call to the end of its last, its calls)."""
    made = calls.get(name) or [(0, float("nan"), 0)]
    return made[-1][0] + made[-1][1] - made[0][0], len(made)


def report(args, made, seeded, planned, ticks, calls, total, rss, rss_before, mid) -> None:
    partitions = args.topics * args.partitions
    print(
        f"sizes: {args.topics:,} topics x {args.partitions} partitions = {partitions:,} "
        f"partitions, {made['records']:,} records, {made['groups']:,} groups (no members: half "
        f"caught up, a quarter part-way, a quarter stale), {made['acls']} ACL bindings; made "
        f"in {seeded:.0f} s by another process"
    )
    print(f"migration {mid}: {len(ticks)} ticks, {total:.0f} s from start to complete")
    print(f"plan: {verdict('plan', planned)}")
    took, looks = span(calls, "create_topics")
    cpu = sum(c for _a, _w, c in calls.get("create_topics", []))
    print(
        f"create_topics: {verdict('create_topics', took)}, CPU {cpu:.2f} s ({looks} look(s): "
        "created, then until the target serves every new partition)"
    )
    wall, cpu = last(calls, "migrate_acls")
    print(f"migrate_acls: {wall:.2f} s, CPU {cpu:.2f} s")
    # a tick that only looked (a wait or an open gate, still there after): the polling cost
    polls = [t for t in ticks if t[0] == t[1] and INFO[t[0]].kind in (Kind.WAIT, Kind.GATE)]
    walls, cpus = [t[2] for t in polls], [t[3] for t in polls]
    print(
        f"polling ticks ({len(polls)}): wall p50 {pct(walls, 50):.2f} s, p99 "
        f"{verdict('tick p99', pct(walls, 99))}; CPU p50 {pct(cpus, 50):.2f} s, "
        f"p99 {pct(cpus, 99):.2f} s"
    )
    print(
        "every step's calls (wall max, CPU max, calls): "
        + ", ".join(
            f"{name} {max(w for _a, w, _u in c):.2f}/{max(u for _a, _w, u in c):.2f} s x{len(c)}"
            for name, c in calls.items()
        )
    )
    wall, cpu = last(calls, "drain")
    print(f"drain tick (reads every group): {verdict('drain tick', wall)}, CPU {cpu:.2f} s")
    wall, cpu = last(calls, "handover_offsets")
    print(f"handover of every group: {verdict('handover', wall)}, CPU {cpu:.2f} s")
    wall, cpu = last(calls, "repoint preview")
    print(f"  (the repoint gate's handover preview before it: {wall:.2f} s, CPU {cpu:.2f} s)")
    wall, cpu = last(calls, "verify")
    print(f"verify: {verdict('verify', wall)}, CPU {cpu:.2f} s")
    longest = sorted(ticks, key=lambda t: -t[2])[:4]
    print("longest ticks: " + ", ".join(f"{a}->{b} {w:.1f} s" for a, b, w, _c in longest))
    print(
        f"peak RSS of this process (it runs the engine): {verdict('peak RSS', rss)} "
        f"({rss_before:.0f} MB before the migration started)"
    )


if __name__ == "__main__":
    main()
