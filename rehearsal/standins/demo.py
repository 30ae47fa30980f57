"""The rehearsal's demo: topics, ACLs, a schema, connectors and live clients on the sandbox's
source side.

`seed()` puts on the source what a real migration meets: several topics matching one pattern
and one the migration excludes, a compacted topic with tombstones, a topic written with
transactions, ACL bindings for the applications, a JSON schema whose id the records carry
(Confluent's wire format), and two file connectors on the old Connect cluster
(`demo_connectors`: a log file's lines into `<prefix>.events`, that topic archived into a file).
The live clients are switched from the page, as people would during the cutover: a producer
writing a few records a second, and two consumer groups, `-billing` keeping up and
`-analytics` reading in bursts (behind most of the time). Each runs on the source or on the
target, or is stopped. The log file grows from `start()` on, whatever the migration does (the
bot moves the connectors itself); `stop()` stops it all.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field

from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import (
    AclBinding,
    AclOperation,
    AclPermissionType,
    AdminClient,
    NewTopic,
    ResourcePatternType,
    ResourceType,
)

from standins.demo_connectors import DemoConnectors

log = logging.getLogger(__name__)
SCHEMA = {
    "type": "object",
    "title": "Order",
    "properties": {
        "id": {"type": "integer"},
        "customer": {"type": "string"},
        "amount": {"type": "number"},
    },
    "required": ["id", "customer", "amount"],
}


@dataclass
class Client:
    """One live client thread: where it runs and how to stop it."""

    cluster: str
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    count: int = 0
    error: str | None = None


class Demo:
    def __init__(self, box, *, prefix: str = "orders", registry=None, rate: float = 4.0):
        self.box = box
        self.prefix = prefix
        self.registry = registry
        self.rate = rate
        self.schema_id: int | None = None
        self.producer: Client | None = None
        self.consumers: dict[str, Client] = {}
        self.connectors = DemoConnectors(box, prefix, self.topic("events"))
        self._lock = threading.Lock()

    # names ---------------------------------------------------------------------------------
    def topic(self, name: str) -> str:
        return f"{self.prefix}.{name}"

    @property
    def pattern(self) -> str:
        """The migration's topics, a Java regex."""
        return self.prefix.replace(".", "\\.") + "\\..*"

    @property
    def exclude(self) -> str:
        return self.topic("test").replace(".", "\\.")

    @property
    def live_topics(self) -> list[str]:
        return [self.topic("created"), self.topic("paid")]

    @property
    def groups(self) -> dict[str, list[str]]:
        """Consumer group -> the topics it reads."""
        return {
            f"{self.prefix}-billing": self.live_topics,
            f"{self.prefix}-analytics": [*self.live_topics, self.topic("shipped")],
        }

    def conf(self, cluster: str) -> dict[str, str]:
        endpoint = self.box.source if cluster == "source" else self.box.target
        return endpoint.client_config()

    # seeding -------------------------------------------------------------------------------
    def seed(self) -> Demo:
        """Create what is missing on the source (a second run on the same sandbox adds
        nothing) and register the schema."""
        admin = AdminClient(self.conf("source"))
        existing = set(admin.list_topics(timeout=15).topics)
        plan = {
            "created": (3, {}),
            "paid": (2, {}),
            "shipped": (1, {"retention.ms": str(7 * 86400_000)}),
            "customers": (1, {"cleanup.policy": "compact"}),
            "ledger": (2, {}),
            "test": (1, {}),
            "events": (1, {}),  # written by the file source connector only, in order
        }
        new = [
            NewTopic(self.topic(name), partitions, 1, config=config)
            for name, (partitions, config) in plan.items()
            if self.topic(name) not in existing
        ]
        if new:
            for future in admin.create_topics(new).values():
                future.result(timeout=30)
        if self.registry is not None:
            self.schema_id = self.registry.seed(
                f"{self.topic('created')}-value", json.dumps(SCHEMA), schema_type="JSON"
            )
        if self.topic("created") not in existing:
            self._records()
            self._acls(admin)
        self.connectors.seed()
        return self

    def _records(self) -> None:
        producer = Producer({**self.conf("source"), "linger.ms": 5})
        for i in range(60):
            producer.produce(self.topic("created"), key=f"o{i}", value=self._order(i))
            producer.produce(self.topic("paid"), key=f"o{i}", value=self._order(i))
        for i in range(20):
            producer.produce(self.topic("shipped"), key=f"o{i}", value=f"shipped {i}")
            producer.produce(self.topic("test"), key=f"t{i}", value=f"scratch {i}")
        for i in range(30):
            producer.produce(self.topic("customers"), key=f"c{i % 12}", value=f"customer v{i}")
        for key in ("c3", "c7"):
            producer.produce(self.topic("customers"), key=key, value=None)  # tombstones
        assert producer.flush(30) == 0
        transactional = Producer(
            {
                **self.conf("source"),
                "transactional.id": f"{self.prefix}-ledger-seed",
                "log_level": 3,  # a fresh cluster's coordinator loading is retried, not news
            }
        )
        transactional.init_transactions(30)
        for batch in range(4):
            transactional.begin_transaction()
            for i in range(10):
                transactional.produce(
                    self.topic("ledger"), key=f"b{batch}", value=f"entry {batch}.{i}"
                )
            if batch == 2:
                transactional.abort_transaction(30)  # aborted records are not lag, nor copied
            else:
                transactional.commit_transaction(30)

    def _acls(self, admin: AdminClient) -> None:
        def allow(kind, name, principal, operation):
            return AclBinding(
                kind,
                name,
                ResourcePatternType.PREFIXED,
                principal,
                "*",
                operation,
                AclPermissionType.ALLOW,
            )

        bindings = [
            allow(ResourceType.TOPIC, f"{self.prefix}.", "User:alice", AclOperation.WRITE),
            allow(ResourceType.TOPIC, f"{self.prefix}.", "User:alice", AclOperation.DESCRIBE),
            allow(ResourceType.TOPIC, f"{self.prefix}.", "User:bob", AclOperation.READ),
            allow(ResourceType.GROUP, f"{self.prefix}-", "User:bob", AclOperation.READ),
        ]
        for future in admin.create_acls(bindings).values():
            future.result(timeout=30)

    def _order(self, i: int) -> bytes:
        body = json.dumps({"id": i, "customer": f"c{i % 12}", "amount": round(9.5 + i, 2)})
        if self.schema_id is None:
            return body.encode()
        return b"\x00" + self.schema_id.to_bytes(4, "big") + body.encode()

    # live clients --------------------------------------------------------------------------
    def switch(self, clients: str, cluster: str | None) -> None:
        """Stop the producer (or the consumers) and, with a cluster, start them there."""
        with self._lock:
            if clients == "producer":
                self._stop([self.producer] if self.producer else [])
                self.producer = None
                if cluster:
                    self.producer = self._start(cluster, self._produce, "demo-producer")
            else:
                self._stop(list(self.consumers.values()))
                self.consumers = {}
                if cluster:
                    for group, topics in self.groups.items():
                        every = 4.0 if group.endswith("-analytics") else 0.0
                        self.consumers[group] = self._start(
                            cluster,
                            lambda c, g=group, t=topics, e=every: self._consume(c, g, t, e),
                            f"demo-{group}",
                        )

    def start(self) -> Demo:
        self.switch("producer", "source")
        self.switch("consumers", "source")
        self.connectors.start()
        return self

    def stop(self) -> None:
        self.switch("producer", None)
        self.switch("consumers", None)
        self.connectors.stop()

    def status(self) -> dict:
        producer = self.producer
        return {
            "producer": producer.cluster if producer else None,
            "produced": producer.count if producer else 0,
            "consumers": next(iter(self.consumers.values())).cluster if self.consumers else None,
            "groups": {g: c.count for g, c in self.consumers.items()},
            "errors": [
                c.error
                for c in [producer, *self.consumers.values()]
                if c is not None and c.error is not None
            ],
            "pattern": self.pattern,
            "exclude": self.exclude,
            "connectors": self.connectors.status(),
        }

    def _start(self, cluster: str, body, name: str) -> Client:
        client = Client(cluster)
        client.thread = threading.Thread(target=self._guard, args=(client, body), name=name)
        client.thread.daemon = True
        client.thread.start()
        return client

    @staticmethod
    def _stop(clients: list[Client]) -> None:
        for client in clients:
            client.stop.set()
        for client in clients:
            if client.thread is not None:
                client.thread.join(30)

    @staticmethod
    def _guard(client: Client, body) -> None:
        try:
            body(client)
        except Exception as exc:  # noqa: BLE001 - shown on the page, the demo goes on
            client.error = f"{client.cluster}: {exc.__class__.__name__}: {exc}"[:300]
            log.warning("demo client stopped: %s", client.error)

    def _produce(self, client: Client) -> None:
        producer = Producer({**self.conf(client.cluster), "linger.ms": 5})
        i = 1000
        try:
            while not client.stop.wait(1 / self.rate):
                topic = self.live_topics[i % 2]
                producer.produce(topic, key=f"o{i}", value=self._order(i))
                producer.poll(0)
                i += 1
                client.count += 1
        finally:
            producer.flush(10)

    def _consume(self, client: Client, group: str, topics: list[str], every: float) -> None:
        consumer = Consumer(
            {
                **self.conf(client.cluster),
                "group.id": group,
                "auto.offset.reset": "earliest",
                "enable.auto.commit": True,
                "auto.commit.interval.ms": 500,
                "isolation.level": "read_committed",
            }
        )
        consumer.subscribe(topics)
        try:
            while not client.stop.is_set():
                for message in consumer.consume(500, timeout=0.5):
                    if message.error():
                        raise KafkaException(message.error())
                    client.count += 1
                if every:
                    client.stop.wait(every)
        finally:
            consumer.close()  # commits what it read and leaves the group
