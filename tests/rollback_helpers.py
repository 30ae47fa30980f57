"""What the rollback tests share, whatever drives the bot (signed Slack requests or the CLI
and a real `serve` process): a watcher of both Connect workers, consumer group members that
read and commit as applications do, transactions, and a read_committed reader."""

from __future__ import annotations

import threading
import time

from confluent_kafka import Consumer, Producer, TopicPartition

from tests.connect_helpers import client, worker
from tests.kafka_helpers import read_from

BACK = "reverse_via=sandbox-mm2-back soak=1h"  # the sandbox's reverse flow, a soak to act in


class Watcher(threading.Thread):
    """Polls both Connect workers; remembers any moment the forward and the reverse
    connectors of the migration were listed together, the most reverse connectors listed at
    once, and how often the reverse flow appeared (absent, then listed)."""

    def __init__(self, sandbox, mid: str):
        super().__init__(daemon=True)
        self.forward, self.back = worker(sandbox, "connect"), worker(sandbox, "connect_source")
        self.mid, self.both, self.seen_back, self.looks = mid, [], False, 0
        self.most_back, self.back_appeared = 0, 0
        self.done = threading.Event()

    def run(self) -> None:
        listed = False
        with client(self.forward) as fwd, client(self.back) as back:
            while not self.done.is_set():
                try:
                    on_fwd = [
                        n for n in fwd.get("/connectors").json() if n.startswith(f"km-{self.mid}-")
                    ]
                    on_back = [
                        n for n in back.get("/connectors").json() if n.startswith(f"km-{self.mid}-")
                    ]
                except Exception:  # noqa: BLE001 - a worker busy for a moment: look again
                    continue
                self.looks += 1
                forward = [n for n in on_fwd if "-back-" not in n]
                reverse = on_back + [n for n in on_fwd if "-back-" in n]
                self.seen_back |= bool(reverse)
                self.most_back = max(self.most_back, len(reverse))
                if reverse and not listed:
                    self.back_appeared += 1
                listed = bool(reverse)
                if forward and reverse:
                    self.both.append((forward, reverse))
                time.sleep(0.05)

    def stop(self) -> None:
        self.done.set()
        self.join(10)


class Member(threading.Thread):
    """A consumer group member: reads and commits after each batch; with `limit`, it stops
    reading after that many records (its partitions paused), and stays a member. While `hold`
    is set it reads nothing either (paused; `holding` says once it took effect) and falls
    behind, still a member; cleared, it reads on from where it stopped."""

    def __init__(self, conf: dict, group: str, topics: list[str], limit: int | None = None):
        super().__init__(daemon=True)
        self.conf, self.group, self.topics, self.limit = conf, group, topics, limit
        self.values: list[bytes] = []
        self.done, self.hold, self.holding = threading.Event(), threading.Event(), threading.Event()
        self.error: Exception | None = None

    def run(self) -> None:
        consumer = Consumer(
            {
                **self.conf,
                "group.id": self.group,
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
            }
        )
        try:
            consumer.subscribe(self.topics)
            paused = held = False
            while not self.done.is_set():
                if self.hold.is_set():  # each turn: a rebalance would assign partitions anew
                    consumer.pause(consumer.assignment())
                    if held:  # paused before the last read: nothing new arrives now
                        self.holding.set()
                    held = True
                elif held:
                    consumer.resume(consumer.assignment())
                    held = False
                    self.holding.clear()
                msgs = consumer.consume(50, timeout=0.2)
                batch = []
                for msg in msgs:
                    if msg.error() is not None:
                        continue
                    if self.limit is not None and len(self.values) >= self.limit:
                        break
                    self.values.append(msg.value())
                    batch.append(msg)
                if batch:
                    last = {}
                    for msg in batch:
                        last[(msg.topic(), msg.partition())] = msg.offset() + 1
                    consumer.commit(
                        offsets=[TopicPartition(t, p, o) for (t, p), o in last.items()],
                        asynchronous=False,
                    )
                if self.limit is not None and len(self.values) >= self.limit and not paused:
                    consumer.pause(consumer.assignment())
                    paused = True
        except Exception as exc:  # noqa: BLE001 - the test reads it
            self.error = exc
        finally:
            consumer.close()

    def stop(self) -> list[bytes]:
        self.done.set()
        self.join(30)
        assert self.error is None, self.error
        return self.values


def transactions(conf: dict, topic: str, batches: list[list[bytes]], abort_last: bool) -> None:
    producer = Producer({**conf, "transactional.id": f"tx-{topic}-{time.time_ns()}"})
    producer.init_transactions(30)
    for i, batch in enumerate(batches):
        producer.begin_transaction()
        for value in batch:
            producer.produce(topic, value=value, partition=0)
        if abort_last and i == len(batches) - 1:
            producer.abort_transaction(30)
        else:
            producer.commit_transaction(30)


def committed_records(conf: dict, tps: list[tuple[str, int]]) -> list[bytes]:
    """Every record a read_committed reader sees on those partitions."""
    return read_from({**conf, "isolation.level": "read_committed"}, {tp: 0 for tp in tps})


def ours(sandbox, mid: str) -> list[str]:
    """The migration's connectors on both workers (the forward one on the target's, the
    reverse one on the source's)."""
    with (
        client(worker(sandbox, "connect")) as fwd,
        client(worker(sandbox, "connect_source")) as back,
    ):
        names = fwd.get("/connectors").json() + back.get("/connectors").json()
    return sorted(n for n in names if n.startswith(f"km-{mid}-"))


def approve(ws, mid: str, step: str, timeout: float = 120) -> dict:
    """Bob approves the gate at the version it was opened with (alice requested it all)."""
    status = ws.wait_gate(mid, step, timeout)
    ws.ok("approve", mid, "--version", str(status["version"]), user="bob")
    return status
