"""MirrorMaker 2 on a Kafka Connect cluster of two workers (`sandbox up --connect-workers 2
--exactly-once`), through the real engine: one worker is killed (SIGKILL) in the middle of the
copy while a producer writes; its tasks move to the other worker, the copy goes on, and the
target holds every source record exactly once.

Exactly once because the cluster is: a killed worker commits nothing on its way out, so with
Connect's default at-least-once source tasks the records it copied since its last offset flush
(`offset.flush.interval.ms`, 1 s on the sandbox) would be copied again by the worker that takes
its tasks over. With exactly-once source support each batch and its offsets are one
transaction: the killed worker's open one is aborted when its successor fences it, and a
read_committed reader (the default of librdkafka and of the bot's own reads) sees each record
once.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from bot import sandbox as sandbox_mod
from bot.replicators.connect import ConnectReplicator
from tests.e2e.harness import LiveProducer, Workspace
from tests.kafka_helpers import create_topic, read_from
from tests.waits import wait_for

pytestmark = pytest.mark.sandbox
PARTITIONS = 6


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """A sandbox of its own whose MM2 Connect cluster has two exactly-once workers."""
    directory = tmp_path_factory.mktemp("pair")
    box = sandbox_mod.up(directory, connect_workers=2, exactly_once=True)
    try:
        yield box
    finally:
        sandbox_mod.down(directory)


def tasks(url: str, connector: str) -> dict[int, tuple[str, str]]:
    """task id -> (state, worker id) as the Connect cluster reports it; {} while it cannot."""
    try:
        body = httpx.get(f"{url}/connectors/{connector}/status", timeout=10).json()
    except (httpx.HTTPError, ValueError):
        return {}
    return {t["id"]: (t["state"], t["worker_id"]) for t in body.get("tasks", [])}


def copied(url: str, connector: str) -> dict[int, int]:
    """partition -> the source offset of the last record copied (MM2's committed offsets)."""
    try:
        body = httpx.get(f"{url}/connectors/{connector}/offsets", timeout=10).json()
    except (httpx.HTTPError, ValueError):
        return {}
    return {o["partition"]["partition"]: o["offset"]["offset"] for o in body.get("offsets", [])}


def test_a_worker_killed_mid_copy_hands_its_tasks_over_and_every_record_arrives_once(pair, unique):
    src, tgt = pair.source.client_config(), pair.target.client_config()
    first, second = pair.connect_urls
    survivor, victim = (url.removeprefix("http://") for url in (first, second))  # worker ids
    topic = f"pair-{unique}"
    create_topic(src, topic, PARTITIONS)
    producer = LiveProducer(src, topic, "live", rate_per_s=150)
    producer.start()
    ws = Workspace(pair, quiet=2, drain=1, ready=0)
    ws.serve()
    at = {"start": time.monotonic()}  # when each phase was reached, for the printed summary
    pool = ThreadPoolExecutor(1)
    try:
        request = f"pair source=sandbox-source target=sandbox-target topics={topic} via=sandbox-mm2"
        mid = ws.start(request)
        at["started"] = time.monotonic()
        # what `plan` says meanwhile (it changes nothing; a CLI process as alice's account
        # takes seconds on a busy machine, spent here while the migration moves)
        plan = pool.submit(ws.ok, "plan", *request.split())
        connector = f"km-{mid}-source"
        ws.wait_reached(mid, "catch_up", 120)
        at["catch_up"] = time.monotonic()
        said = [e.message for e in ws.events(mid) if e.step == "start_replication"]
        assert any("(tasks.max 6: 6 partitions, 2 workers)" in text for text in said), said

        # both workers copy: the cluster spread the six tasks over them
        spread = wait_for(
            lambda: (
                (t := tasks(first, connector))
                and len(t) == PARTITIONS
                and all(state == "RUNNING" for state, _ in t.values())
                and {w for _, w in t.values()} == {survivor, victim}
                and t
            ),
            timeout=120,
            what="six RUNNING tasks on both workers",
            every=0.5,
        )
        # the sandbox's config says `workers = 2`: 2 x 4 tasks, bound by the 6 partitions
        said = plan.result(timeout=120)
        assert "MirrorSourceConnector tasks.max 6: 6 partitions, 2 workers" in said, said
        # counted from what the cluster runs (no workers = N configured): both workers seen
        assert ConnectReplicator(first).size_tasks(PARTITIONS).workers == 2
        moved = sorted(i for i, (_, w) in spread.items() if w == victim)
        before = wait_for(
            lambda: (c := copied(first, connector)) and len(c) == PARTITIONS and c,
            timeout=60,
            what="every partition copying",
            every=0.5,
        )

        at["spread"] = time.monotonic()
        sandbox_mod.kill_connect(pair, "connect_2")  # a crash, mid-copy: the producer writes on
        at["killed"] = time.monotonic()

        # its tasks now run on the worker left, after the group's session timeout (10 s)
        wait_for(
            lambda: (
                (t := tasks(first, connector))
                and len(t) == PARTITIONS
                and all(t[i] == ("RUNNING", survivor) for i in t)
            ),
            timeout=120,
            what=f"tasks {moved} moved from {victim} to {survivor}",
            every=0.5,
        )
        at["moved"] = time.monotonic()
        # and the copy goes on, past where it stood at the kill, on every partition
        wait_for(
            lambda: (
                (c := copied(first, connector))
                and all(c.get(p, -1) > before[p] for p in range(PARTITIONS))
            ),
            timeout=120,
            what="the copy past where it stood at the kill",
            every=0.5,
        )
        assert ws.peek(mid)["status"] == "active"

        producer.stop()
        assert len(producer.acked) > 1000
        # replication lag 0, read from MM2's own offsets: the stop_producers gate opens
        ws.wait_gate(mid, "stop_producers", 180)
        at["caught up"] = time.monotonic()
        starts = {(topic, p): 0 for p in range(PARTITIONS)}
        on_target = read_from(tgt, starts)  # read_committed: what consumers on the target read
        assert len(on_target) == len(set(on_target)), "a record copied twice"
        assert sorted(on_target) == sorted(producer.acked)  # none lost, none twice
        everything = read_from({**tgt, "isolation.level": "read_uncommitted"}, starts)
        print(
            f"\ntasks {moved} moved off the killed worker; {len(producer.acked)} records once; "
            f"{len(everything) - len(on_target)} in the aborted transaction(s) of the kill; "
            + ", ".join(f"{k} at {v - at['start']:.0f}s" for k, v in at.items() if k != "start")
        )
    finally:
        pool.shutdown()
        producer.stop()
        ws.stop_serve()
