"""Where a flow on Aiven starts copying. The Aiven API cannot set it: Aiven's MM2 keeps its
source positions in `mm2-offsets.<source alias>.internal` on the flow's TARGET cluster (Connect's
offsets topic, dedicated mode), reads them when the flow starts, and Aiven's docs reset a topic
by producing there. So the bot writes the positions there itself, while the flow is disabled,
in Connect's own layout (bot.replicators.offsets.offset_record), and reads them back.

A position stored is the last record copied (MM2 resumes after it): the start minus one; a
partition that starts at 0 gets none (MM2 then starts at the beginning).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from confluent_kafka import KafkaException, Producer
from confluent_kafka.admin import NewTopic

from bot.kafka.cluster import TIMEOUT, TP, Cluster, KafkaOpError, NotYet, eventually, gather
from bot.kafka.cluster import retriable as passing
from bot.reasons import reason
from bot.replicators.base import ReplicatorError
from bot.replicators.offsets import JAVA_PARTITIONER, offset_record, offsets_topic_offsets

OFFSETS_PARTITIONS = 25  # as Aiven lists the topic (compacted)
READ_BACK_WAIT = 30.0  # seconds to read the positions back as written
ELECTION_WAIT = 10.0  # seconds a read retries a passing error (a new topic's leaders)


def positions(starts: Mapping[TP, int]) -> dict[TP, int]:
    """The positions to store for these starts: the offset of the record before each."""
    return {tp: start - 1 for tp, start in starts.items() if start > 0}


def past_starts(stored: Mapping[TP, int], starts: Mapping[TP, int]) -> dict[TP, tuple[int, int]]:
    """Partitions whose stored position is past their start: (stored, start) each. MM2 has
    copied from there already (a flow started and then disabled), or the entry is stale."""
    return {tp: (stored[tp], start) for tp, start in starts.items() if stored.get(tp, -1) >= start}


class StartStore:
    """The positions of one flow's MirrorSourceConnector (`connector`, the flow's source alias)
    in the offsets topic `topic` on the flow's target `cluster`."""

    def __init__(self, cluster: Cluster, topic: str, connector: str, alias: str):
        self.cluster, self.topic, self.connector, self.alias = cluster, topic, connector, alias
        self.where = f"{topic} on {cluster.name}"

    def read(self) -> dict[TP, int]:
        def mine(name: str, part: dict) -> bool:
            return name == self.connector and part.get("cluster") == self.alias

        # a topic just created answers "not leader" until its leaders are elected: a moment
        deadline = time.monotonic() + ELECTION_WAIT
        while True:
            try:
                return self._kafka(
                    "read", lambda: offsets_topic_offsets(self.cluster, self.topic, mine)
                )
            except ReplicatorError as exc:
                if not exc.retriable or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def write(
        self, wanted: Mapping[TP, int], *, wait_s: float = READ_BACK_WAIT, sleep=time.sleep
    ) -> None:
        """Write each position and read them all back as written (a retriable error if not)."""
        if not wanted:
            return
        self._kafka("create", self._ensure_topic)
        self._kafka("write", lambda: self._produce(wanted))
        deadline = time.monotonic() + wait_s
        while True:
            stored = self.read()
            wrong = {tp: stored.get(tp) for tp, n in wanted.items() if stored.get(tp) != n}
            if not wrong:
                return
            if time.monotonic() > deadline:
                (tp, got), *_ = sorted(wrong.items())
                raise ReplicatorError(
                    f"wrote {len(wanted)} start position(s) to {self.where}; {len(wrong)} read "
                    f"back otherwise (e.g. {tp[0]}[{tp[1]}]: {got}, not {wanted[tp]})",
                    retriable=True,
                )
            sleep(0.5)

    def _ensure_topic(self) -> None:
        """Created compacted as Aiven lists it when missing; waited for until it has
        partitions (the producer places keys by the partition count)."""
        admin = self.cluster.admin
        topic = admin.list_topics(self.topic, timeout=TIMEOUT).topics.get(self.topic)
        if topic is None or topic.error is not None:
            new = NewTopic(self.topic, OFFSETS_PARTITIONS, -1, config={"cleanup.policy": "compact"})
            try:
                gather(admin.create_topics([new], request_timeout=TIMEOUT), f"create {self.topic}")
            except KafkaOpError as exc:
                if "TOPIC_ALREADY_EXISTS" not in str(exc):
                    raise

        def visible() -> None:
            found = admin.list_topics(self.topic, timeout=TIMEOUT).topics.get(self.topic)
            if found is None or found.error is not None or not found.partitions:
                raise NotYet(f"{self.topic} not visible yet")

        eventually(visible, timeout=15)

    def _produce(self, wanted: Mapping[TP, int]) -> None:
        producer = Producer(
            {
                **self.cluster.client_config,
                "partitioner": JAVA_PARTITIONER,
                "enable.idempotence": True,
                "log_level": 3,
            }
        )
        failed: list[tuple[str, bool]] = []

        def delivered(err, _msg) -> None:
            if err is not None:
                failed.append((f"{err.name()}: {err.str()}", err.retriable()))

        for tp, offset in sorted(wanted.items()):
            key, value = offset_record(self.connector, self.alias, tp, offset)
            producer.produce(self.topic, key=key, value=value, on_delivery=delivered)
            producer.poll(0)
        left = producer.flush(TIMEOUT)
        if left or failed:
            raise KafkaOpError(
                f"{left + len(failed)} record(s) not delivered: "
                + ("; ".join(text for text, _ in failed[:3]) or "no answer in time"),
                retriable=all(again for _, again in failed),
            )

    def _kafka(self, what: str, call: Callable):
        try:
            return call()
        except (KafkaException, KafkaOpError, TimeoutError) as exc:
            again = exc.retriable if isinstance(exc, KafkaOpError) else passing(exc)
            raise ReplicatorError(
                f"{what} MM2's start positions ({self.where}): {reason(exc)}", retriable=again
            ) from None
