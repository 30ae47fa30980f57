"""Benchmark: one full consumer-group lag snapshot, ours vs Kafka's ConsumerGroupCommand.

On the real sandbox: 5,000 partitions (50 topics x 100), 200 groups with committed offsets
(each on one topic, 100 partitions), one record per partition so lag is not zero. Prints the
time of our snapshot and of `kafka-consumer-groups --describe --all-groups` (same jars, a new
JVM as a user would run it), their ratio, Kafka requests per snapshot (from librdkafka's
statistics), and peak RSS of this process.

    .venv/bin/python -m bench.lag_snapshot [--sandbox-dir DIR] [--topics 50] [--partitions 100]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from confluent_kafka import ConsumerGroupTopicPartitions, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from bot import sandbox as sandbox_mod
from bot.kafka.cluster import Cluster, gather
from bot.kafka.groups import lag_snapshot
from bot.sandbox import jars


def populate(conf: dict, prefix: str, topics: int, partitions: int, groups: int) -> None:
    admin = AdminClient(conf)
    names = [f"{prefix}-{i:02d}" for i in range(topics)]
    for start in range(0, topics, 10):
        gather(
            admin.create_topics(
                [NewTopic(n, partitions, 1) for n in names[start : start + 10]], request_timeout=120
            ),
            "create topics",
            timeout=180,
        )
    from confluent_kafka import Producer

    producer = Producer({**conf, "linger.ms": 20})
    for name in names:
        for p in range(partitions):
            producer.produce(name, value=b"x", partition=p)
        producer.poll(0)
    producer.flush(120)
    futures = {}
    for g in range(groups):
        topic = names[g % topics]
        offsets = [TopicPartition(topic, p, 0 if g % 2 else 1) for p in range(partitions)]
        futures.update(
            admin.alter_consumer_group_offsets(
                [ConsumerGroupTopicPartitions(f"{prefix}-group-{g:03d}", offsets)]
            )
        )
    gather(futures, "commit offsets", timeout=120)


class RequestCounter:
    """Counts requests by type from librdkafka's statistics of one AdminClient."""

    def __init__(self):
        self.latest: dict = {}

    def __call__(self, stats_json: str) -> None:
        stats = json.loads(stats_json)
        counts: dict[str, int] = {}
        for broker in stats.get("brokers", {}).values():
            for name, n in broker.get("req", {}).items():
                counts[name] = counts.get(name, 0) + n
        self.latest = counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sandbox-dir", help="reuse a running sandbox")
    parser.add_argument("--topics", type=int, default=50)
    parser.add_argument("--partitions", type=int, default=100)
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    own = None
    if args.sandbox_dir:
        box = sandbox_mod.status(args.sandbox_dir)
    else:
        own = Path(tempfile.mkdtemp(prefix="bench-sandbox-"))
        box = sandbox_mod.up(own)
    try:
        conf = box.source.client_config()
        prefix = f"bench{int(time.time()) % 100000}"
        started = time.monotonic()
        populate(conf, prefix, args.topics, args.partitions, args.groups)
        print(
            f"setup: {args.topics * args.partitions} partitions, {args.groups} groups "
            f"in {time.monotonic() - started:.1f}s"
        )

        counter = RequestCounter()
        cluster = Cluster("bench", {**conf, "statistics.interval.ms": 100})
        cluster.admin = AdminClient(
            {**conf, "statistics.interval.ms": 100, "stats_cb": counter, "log_level": 3}
        )
        lag_snapshot(cluster)  # warm-up: connections, metadata
        times, requests = [], []
        for _ in range(args.rounds):
            time.sleep(0.25)
            cluster.admin.poll(0.2)
            before = dict(counter.latest)
            t0 = time.perf_counter()
            snap = lag_snapshot(cluster)
            times.append(time.perf_counter() - t0)
            time.sleep(0.25)
            cluster.admin.poll(0.2)
            after = counter.latest
            requests.append(
                {
                    k: after.get(k, 0) - before.get(k, 0)
                    for k in after
                    if after.get(k, 0) - before.get(k, 0)
                }
            )
        ours = statistics.median(times)
        ours_groups = sum(1 for g in snap.groups if g.startswith(prefix))
        rows = sum(len(g.partitions) for g in snap.groups.values())

        with tempfile.NamedTemporaryFile("w", suffix=".properties", delete=False) as props:
            props.write(
                "security.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n"
                "sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule "
                f'required username="admin" password="{box.source.users["admin"]}";\n'
            )
        command = [
            "java",
            "-Xmx512m",
            "-cp",
            f"{jars.lib_dir()}/*",
            "-Dlog4j2.level=WARN",
            "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand",
            "--bootstrap-server",
            box.source.bootstrap_servers,
            "--command-config",
            props.name,
            "--describe",
            "--all-groups",
        ]
        t0 = time.perf_counter()
        tool = subprocess.run(command, capture_output=True, text=True, timeout=600)
        theirs = time.perf_counter() - t0
        Path(props.name).unlink()
        tool_rows = sum(
            1 for line in tool.stdout.splitlines() if line.startswith(prefix + "-group")
        )
        if tool.returncode != 0:
            print("tool failed:", tool.stderr[-2000:])

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(
            f"ours:  median {ours * 1000:.0f} ms over {args.rounds} snapshots "
            f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f}); "
            f"{ours_groups} bench groups, {rows} group-partition rows"
        )
        counted = requests[-1]
        print(f"requests per snapshot (librdkafka statistics): {counted}")
        print(
            f"  + OffsetFetch: one per group ({len(snap.groups)}), not counted by those "
            f"statistics; total about {sum(counted.values()) + len(snap.groups)} requests "
            f"for {rows} group-partition rows"
        )
        print(
            f"tool:  {theirs * 1000:.0f} ms (ConsumerGroupCommand --describe --all-groups, "
            f"new JVM), {tool_rows} bench rows"
        )
        print(f"ratio: tool / ours = {theirs / ours:.1f}x")
        print(f"peak RSS of this process: {peak:.0f} MiB")
        print(
            f"target: ours <= 2000 ms: {'met' if ours <= 2 else 'MISSED'}; "
            f">= 5x faster: {'met' if theirs / ours >= 5 else 'MISSED'}"
        )
    finally:
        if own:
            sandbox_mod.down(own)


if __name__ == "__main__":
    main()
