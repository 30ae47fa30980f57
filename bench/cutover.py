"""Benchmark: the bot bringing a migration to its cutover gate vs MirrorMaker 2 alone copying the
same data, and how late "replication caught up" reaches the Slack channel.

On the real sandbox (its own, or reused: --sandbox-dir / KAFKA_MIGRATE_SANDBOX_DIR), each run
copies its own fresh topics of one size: --topics x --partitions holding --records records of
100 bytes, all produced first; a small warm-up connector runs before the two runs.
- MM2 alone: a MirrorSourceConnector (identity policy, tasks.max 4 as the bot's) PUT on the
  sandbox's Connect worker; time = PUT to the target's end offsets equalling the source's.
- bot: `kafka-migrate serve` in its own process (the sandbox's config, poll_interval_seconds=1,
  ready_lag_records=0, Slack Web API = the stand-in in this process); the migration is started
  through the engine as `kafka-migrate start` does; time = start to the stop_producers gate
  opening (the gate's opened_at in the bot's database).
Prints both times, ratio bot / MM2 alone (target <= 1.2), when the bot's steps started, and the
notification delay: the target caught up (the bench looks every 0.2 s) to the channel message
"replication caught up" at the stand-in (looked for every 0.05 s); target <= poll interval + 2 s.
Then a cutover at the default settings (no [timing] section) with fence=yes: --cut-topics fresh
topics of 10,000 records, writable by the sandbox's user alice (an ALLOW WRITE, so the fence has
a principal to deny), a serve process of its own; the bench approves as the CLI does (from
another process) and prints the two windows of the bot's own time: stop_producers approved to
the repoint_clients gate open (target <= 15 s) and repoint_clients approved to
handover_offsets done, "consumers may start on the target" (target <= 5 s). No client runs in
the bench: no people's time is counted. The migration is cancelled after (fence lifted).
Deletes its connectors, topics and ACLs on both clusters at the end.

    .venv/bin/python -m bench.cutover [--sandbox-dir DIR] [--topics 20] [--records 500000]
        [--partitions 3] [--cut-topics 4]
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC
from pathlib import Path

import httpx
from confluent_kafka import KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec
from standins.slack_api import SlackStandIn

from bot import config
from bot import sandbox as sandbox_mod
from bot.db import open_database
from bot.dbmigrations import init_db
from bot.kafka.acls import Acl, delete_acls
from bot.kafka.cluster import Cluster
from bot.migration import view
from bot.migration.engine import Engine
from bot.migration.grammar import parse_start
from bot.migration.notify import LogNotifier
from bot.migration.store import Store

POLL = 1  # the bot's poll_interval_seconds
CHANNEL = "C0BENCH"
SETTINGS = f"""
[timing]
poll_interval_seconds = {POLL}
ready_lag_records = 0

[slack]
channel = "{CHANNEL}"
approvers = ["U0BOB"]
"""
MIRROR = "org.apache.kafka.connect.mirror."
BYTES = "org.apache.kafka.connect.converters.ByteArrayConverter"
PLAIN = "org.apache.kafka.common.security.plain.PlainLoginModule"
CAUGHT_UP = "replication caught up"
DEFAULTS = f"""
[slack]
channel = "{CHANNEL}"
approvers = ["U0BOB"]
"""
Ends = dict[tuple[str, int], int]


def until(look, timeout: float, every: float, what: str) -> float:
    """time.time() just before the first look that answers true, one look every `every` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        looked = time.time()
        if look():
            return looked
        time.sleep(max(0.0, looked + every - time.time()))
    raise TimeoutError(f"{what}: not within {timeout:.0f}s")


def end_offsets(admin: AdminClient, tps) -> Ends | None:
    """Latest offsets; None while one does not answer (e.g. its topic is not there yet)."""
    try:
        asked = {TopicPartition(t, p): OffsetSpec.latest() for t, p in tps}
        answers = admin.list_offsets(asked, request_timeout=5)
        return {(tp.topic, tp.partition): f.result().offset for tp, f in answers.items()}
    except KafkaException:
        return None


def populate(conf: dict, names: list[str], records: int, partitions: int) -> Ends:
    admin = AdminClient(conf)
    for future in admin.create_topics([NewTopic(n, partitions, 1) for n in names]).values():
        future.result(timeout=60)
    # a local queue that holds every record: produce() never waits, librdkafka batches
    queue = {"queue.buffering.max.messages": max(records, 100_000), "batch.size": 1_000_000}
    producer = Producer({**conf, **queue, "linger.ms": 50})
    for i in range(records):
        value = b"%010d" % i + b"x" * 90
        producer.produce(names[i % len(names)], value, partition=(i // len(names)) % partitions)
    if producer.flush(300):
        raise SystemExit("producing did not finish in 300 s")
    ends = end_offsets(admin, [(n, p) for n in names for p in range(partitions)])
    if ends is None or sum(ends.values()) != records:
        raise SystemExit(f"the source holds {ends and sum(ends.values())} records, not {records}")
    return ends


def caught_up(box, want: Ends, timeout: float) -> float:
    target = AdminClient({**box.target.client_config(), "log_level": 3})
    return until(lambda: end_offsets(target, want) == want, timeout, 0.2, "target caught up")


def mm2_alone(box, connect: httpx.Client, name: str, want: Ends, timeout: float) -> float:
    """Seconds from creating a bare MirrorSourceConnector to the target holding every record."""
    conf = {
        "connector.class": MIRROR + "MirrorSourceConnector",
        "topics": ",".join(sorted({t for t, _ in want})),
        "replication.policy.class": MIRROR + "IdentityReplicationPolicy",
        "tasks.max": "4",
        "replication.factor": "-1",
        "offset-syncs.topic.location": "target",
        "offset-syncs.topic.replication.factor": "-1",
        "sync.topic.acls.enabled": "false",
        "source.consumer.isolation.level": "read_committed",
    }
    conf |= {f"{kind}.converter": BYTES for kind in ("key", "value", "header")}
    for side, end in (("source", box.source), ("target", box.target)):
        login = f'{PLAIN} required username="admin" password="{end.users["admin"]}";'
        conf |= {
            f"{side}.cluster.alias": side,
            f"{side}.cluster.bootstrap.servers": end.bootstrap_servers,
            f"{side}.cluster.security.protocol": "SASL_PLAINTEXT",
            f"{side}.cluster.sasl.mechanism": "PLAIN",
            f"{side}.cluster.sasl.jaas.config": login,
        }
    started = time.time()
    connect.put(f"/connectors/{name}/config", json=conf).raise_for_status()
    took = caught_up(box, want, timeout) - started
    delete_connectors(connect, [name])
    return took


def serve_process(box, root: Path, standin: SlackStandIn, settings: str):
    """`kafka-migrate serve` on the sandbox's config with these settings: (process, db url)."""
    base = box.config_file.read_text()
    (root / "kafka-migrate.toml").write_text(base[: base.index("[timing]")] + settings)
    (root / "sandbox.env").write_text((box.dir / "sandbox.env").read_text())
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    db_file = root / f"km-{len(list(root.glob('*.db')))}.db"  # one database per serve
    url = f"sqlite:///{db_file}"
    env = {k: v for k, v in os.environ.items() if k != "SLACK_APP_TOKEN"} | {
        "SLACK_BOT_TOKEN": standin.token,
        "SLACK_SIGNING_SECRET": "bench-signing-secret",
        "SLACK_API_URL": standin.api_url,
        "PORT": str(port),
        "KAFKA_MIGRATE_CONFIG": str(root / "kafka-migrate.toml"),
        "DATABASE_URL": url,
    }
    with (root / "serve.log").open("w") as log:
        serve = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve"], env=env, stdout=log, stderr=log
        )
    until(lambda: healthy(serve, f"http://127.0.0.1:{port}/healthz"), 60, 0.2, "serve up")
    return serve, url


def stop(serve: subprocess.Popen) -> None:
    serve.terminate()
    try:
        serve.wait(30)
    except subprocess.TimeoutExpired:
        serve.kill()


def engine_of(root: Path, url: str) -> tuple[Engine, Store]:
    db = open_database(url)
    init_db(db)
    store = Store(db)
    return Engine(config.load(str(root / "kafka-migrate.toml")), store, LogNotifier()), store


def bot_run(box, root: Path, standin: SlackStandIn, prefix: str, want: Ends, timeout: float):
    """Start a migration of `prefix`'s topics, moved by a real serve process; its figures."""
    serve, url = serve_process(box, root, standin, SETTINGS)
    try:
        engine, store = engine_of(root, url)
        words = f"{prefix} source=sandbox-source target=sandbox-target topics={prefix}-b-.*"
        request = parse_start(f"{words} via=sandbox-mm2 replication_policy=identity".split())
        figures: dict[str, float] = {}
        watchers = [  # daemons: a failed run does not wait for them
            lambda: figures.update(zero=caught_up(box, want, timeout)),
            lambda: figures.update(said=until(lambda: said(standin), timeout, 0.05, CAUGHT_UP)),
        ]
        watchers = [threading.Thread(target=w, daemon=True) for w in watchers]
        started = time.time()
        m = engine.verbs.start(request, "bench")
        for watcher in watchers:
            watcher.start()
        until(lambda: gate_open(store, m.id), timeout, 0.25, "the stop_producers gate")
        for watcher in watchers:
            watcher.join(30)
    finally:
        stop(serve)
    if len(figures) < 2:
        raise SystemExit(f"a watcher failed: only {figures} seen")
    at = {k: v - started for k, v in figures.items()}
    at["gate"] = store.get(m.id).state.gate.opened_at - started

    def since(when) -> float:  # stored times are UTC; SQLite gives them back naive
        return when.replace(tzinfo=UTC).timestamp() - started

    steps = [f"{r.step} +{since(r.started_at):.1f}s" for r in store.step_runs(m.id)]
    lags = [  # when each of the bot's looks at the lag answered, and what it saw
        f"+{since(s.at):.1f}s {s.replication_lag:,}"
        for s in store.lag_samples(m.id)
        if s.replication_lag is not None and since(s.at) <= at["gate"]
    ]
    return m.id, at, steps, lags


def grant_writes(box, names: list[str]) -> list[Acl]:
    """ALLOW WRITE for User:alice on each topic: a producer the fence can deny."""
    acls = [Acl("TOPIC", name, "LITERAL", "User:alice", "*", "WRITE", "ALLOW") for name in names]
    admin = AdminClient({**box.source.client_config(), "log_level": 3})
    for future in admin.create_acls([a.binding() for a in acls]).values():
        future.result(timeout=30)
    return acls


def cutover_run(box, root: Path, standin: SlackStandIn, prefix: str, timeout: float) -> dict:
    """A fenced cutover at the default settings, approved from this process as the CLI does:
    the two windows of the bot's own time, and what the steps said."""
    serve, url = serve_process(box, root, standin, DEFAULTS)
    try:
        engine, store = engine_of(root, url)
        words = f"{prefix}c source=sandbox-source target=sandbox-target topics={prefix}-c-.*"
        request = parse_start(f"{words} via=sandbox-mm2 fence=yes".split())
        m = engine.verbs.start(request, "bench")
        until(lambda: gate_open(store, m.id, "stop_producers"), timeout, 0.1, "stop gate")
        approved = time.time()
        engine.verbs.decide(m.id, actor="U0BOB", version=store.get(m.id).version, interface="cli")
        until(lambda: gate_open(store, m.id, "repoint_clients"), timeout, 0.1, "repoint gate")
        opened = store.get(m.id).state.gate.opened_at
        repointed = time.time()
        engine.verbs.decide(m.id, actor="U0BOB", version=store.get(m.id).version, interface="cli")
        until(lambda: finished(store, m.id, "handover_offsets"), timeout, 0.1, "handover")
        handed = finished(store, m.id, "handover_offsets")
        said = {
            r.step: (r.detail or {}).get("message", "")
            for r in store.step_runs(m.id)
            if r.step in ("producers_stopped", "drain")
        }
        engine.verbs.cancel(m.id, "bench", "bench over")
        until(lambda: store.get(m.id).status == "cancelled", 120, 0.2, "cancelled")
    finally:
        stop(serve)
    return {"stop": opened - approved, "repoint": handed - repointed, "said": said}


def finished(store: Store, migration_id: str, step: str) -> float | None:
    for run in store.step_runs(migration_id):
        if run.step == step and run.state == "done" and run.finished_at is not None:
            return run.finished_at.replace(tzinfo=UTC).timestamp()
    return None


def healthy(serve: subprocess.Popen, url: str) -> bool:
    if serve.poll() is not None:
        raise SystemExit(f"serve exited with {serve.returncode}")
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.HTTPError:
        return False


def said(standin: SlackStandIn) -> bool:
    """Whether the channel (not a thread) holds the "replication caught up" message."""
    try:
        return any(CAUGHT_UP in m.text for m in standin.channel_messages(CHANNEL))
    except RuntimeError:  # the stand-in stored a message while we looked: look again
        return False


def gate_open(store: Store, migration_id: str, step: str = "stop_producers") -> bool:
    shown = view.migration_view(store, migration_id)
    if shown.status == "failed":
        raise SystemExit(f"the migration failed: {shown.reason}")
    return shown.step == step and shown.gate_open


def delete_connectors(connect: httpx.Client, names: list[str]) -> None:
    for name in names:
        connect.delete(f"/connectors/{name}")
    gone = lambda: not set(names) & set(connect.get("/connectors").json())  # noqa: E731
    until(gone, 60, 0.2, "connectors deleted")


def cleanup(box, connect: httpx.Client, prefix: str) -> None:
    ours = (f"{prefix}-", f"km-{prefix}-")
    delete_connectors(connect, [c for c in connect.get("/connectors").json() if c.startswith(ours)])
    for endpoint in (box.source, box.target):
        admin = AdminClient({**endpoint.client_config(), "log_level": 3})
        names = [t for t in admin.list_topics(timeout=30).topics if t.startswith(ours[0])]
        for future in admin.delete_topics(names, operation_timeout=60).values() if names else ():
            future.result(timeout=90)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sandbox-dir", default=os.environ.get("KAFKA_MIGRATE_SANDBOX_DIR"))
    parser.add_argument("--topics", type=int, default=20)
    parser.add_argument("--records", type=int, default=500_000)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--cut-topics", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=900, help="seconds per run")
    args = parser.parse_args()

    own = None if args.sandbox_dir else Path(tempfile.mkdtemp(prefix="bench-sandbox-"))
    box = sandbox_mod.status(args.sandbox_dir) if args.sandbox_dir else sandbox_mod.up(own)
    standin = SlackStandIn(channels=(CHANNEL,), users={"U0BOB": "bob"}).start()
    connect = httpx.Client(base_url=box.connect_url, timeout=30)
    prefix = f"cut{int(time.time()) % 100000:05d}"
    root = Path(tempfile.mkdtemp(prefix="cutover-bench-"))
    acls: list = []
    try:
        conf = {**box.source.client_config(), "log_level": 3}  # no librdkafka notices
        warm = populate(conf, [f"{prefix}-w-00"], 5000, args.partitions)
        names = {k: [f"{prefix}-{k}-{i:02d}" for i in range(args.topics)] for k in "mb"}
        alone = populate(conf, names["m"], args.records, args.partitions)
        ours = populate(conf, names["b"], args.records, args.partitions)
        mm2_alone(box, connect, f"{prefix}-warm", warm, args.timeout)
        theirs = mm2_alone(box, connect, f"{prefix}-alone", alone, args.timeout)
        bot = bot_run(box, root, standin, prefix, ours, args.timeout)
        cut_names = [f"{prefix}-c-{i:02d}" for i in range(args.cut_topics)]
        populate(conf, cut_names, 10_000 * args.cut_topics, args.partitions)
        acls = grant_writes(box, cut_names)
        cut = cutover_run(box, root, standin, prefix, args.timeout)
    except BaseException:
        print(f"kept the serve process's log: {root / 'serve.log'}", file=sys.stderr)
        raise
    else:
        shutil.rmtree(root)
    finally:
        cleanup(box, connect, prefix)
        if acls:
            source = Cluster("source", box.source.client_config())
            delete_acls(source, acls, "delete the bench's grants")
        standin.stop()
        if own:
            gc.collect()  # Kafka clients left in cycles go now, not retrying a stopped broker
            sandbox_mod.down(own)
            shutil.rmtree(own, ignore_errors=True)
    migration, at, steps, lags = bot
    ratio, delay = at["gate"] / theirs, at["said"] - at["zero"]
    print(
        f"sizes: {args.topics} topics x {args.partitions} partitions, {args.records:,} records "
        f"of 100 bytes ({args.records / 1e4:.0f} MB) per run, fresh topics for each run"
    )
    print(f"MM2 alone: {theirs:.1f} s (connector created to target end offsets = source's)")
    print(
        f"bot:       {at['gate']:.1f} s (start to the stop_producers gate open; "
        f"poll_interval_seconds={POLL}, ready_lag_records=0; migration {migration})"
    )
    print("  steps started at: " + ", ".join(steps))
    print("  replication lag the bot saw (answered at): " + ", ".join(lags))
    print(
        f"ratio bot / MM2 alone: {ratio:.2f} (target <= 1.2: {'met' if ratio <= 1.2 else 'MISSED'})"
    )
    print(
        f"notification delay: {delay:.2f} s (target caught up at +{at['zero']:.1f} s, "
        f"{CAUGHT_UP!r} in the channel at +{at['said']:.1f} s); target <= {POLL + 2} s "
        f"(poll interval + 2 s): {'met' if delay <= POLL + 2 else 'MISSED'}"
    )
    print(
        f"fenced cutover at the default settings ({args.cut_topics} topics x "
        f"{args.partitions} partitions, 10,000 records each; fence=yes):"
    )
    for key, label, target in (
        ("stop", "stop_producers approved to the repoint_clients gate open", 15),
        ("repoint", "repoint_clients approved to handover_offsets done", 5),
    ):
        verdict = "met" if cut[key] <= target else "MISSED"
        print(f"  {label}: {cut[key]:.1f} s (target <= {target} s: {verdict})")
    for step, result in cut["said"].items():
        print(f"  {step}: {result}")


if __name__ == "__main__":
    main()
