"""Prometheus metrics, served as text on `/metrics` beside `/healthz`.

Two kinds, in a registry of their own (not prometheus_client's global one):
- per open migration, read from the database at scrape time (`MigrationCollector`), so every
  `serve` process (the leader or a standby) answers the same;
- this process's own: tick durations by step and failed calls by target, which the product
  modules record through `observe_tick` and `call_error`.

Labels only carry ids and names the bot chose (migration id, step, status, target): never a
secret nor free text.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

CONTENT_TYPE = CONTENT_TYPE_LATEST
TARGETS = ("kafka", "connect", "slack", "registry")
MIGRATION_LABELS = ("migration_id", "step", "status")

REGISTRY = CollectorRegistry(auto_describe=True)

TICK_SECONDS = Histogram(
    "kafka_migrate_tick_seconds",
    "Duration of one engine tick of a migration (the scheduler's job), by the step it began at",
    ["step"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
    registry=REGISTRY,
)
CALL_ERRORS = Counter(
    "kafka_migrate_call_errors",
    "Failed calls to Kafka, Kafka Connect, Slack or a schema registry that the bot caught "
    "and reported (transient ones included)",
    ["target"],
    registry=REGISTRY,
)
for _target in TARGETS:  # every series from the start, so rate() sees the first failure
    CALL_ERRORS.labels(target=_target)


def observe_tick(step: str, seconds: float) -> None:
    TICK_SECONDS.labels(step=step).observe(seconds)


def call_error(target: str) -> None:
    if target in TARGETS:
        CALL_ERRORS.labels(target=target).inc()


def error_target(exc: BaseException) -> str | None:
    """Which call failed, by the exception's kind: connect, registry, kafka, or None."""
    from confluent_kafka import KafkaException

    from bot.kafka.cluster import KafkaOpError
    from bot.replicators.base import ReplicatorError
    from bot.schemas.client import RegistryError

    if isinstance(exc, ReplicatorError):
        return "connect"
    if isinstance(exc, RegistryError):
        return "registry"
    if isinstance(exc, KafkaException | KafkaOpError):
        return "kafka"
    return None


def count_failure(exc: BaseException) -> None:
    """Count a caught failure of a Kafka, Connect or registry call (other errors are not)."""
    target = error_target(exc)
    if target is not None:
        call_error(target)


def _seconds_since(at: datetime | None, now: float) -> float | None:
    if at is None:
        return None
    at = at if at.tzinfo else at.replace(tzinfo=UTC)  # SQLite returns naive UTC
    return max(0.0, now - at.timestamp())


class MigrationCollector:
    """The open migrations, read through the Store at each scrape."""

    def __init__(self, store, clock=time.time):
        self.store, self.clock = store, clock

    def describe(self) -> list:
        return []  # nothing known before a scrape: the registry must not call collect() early

    def collect(self) -> Iterator[GaugeMetricFamily]:
        def family(name: str, doc: str, extra: tuple[str, ...] = ()) -> GaugeMetricFamily:
            return GaugeMetricFamily(
                f"kafka_migrate_{name}", doc, labels=[*MIGRATION_LABELS, *extra]
            )

        info = family("migration_info", "An open migration (value 1), at its current step")
        replication = family(
            "replication_lag_records",
            "Records the target is behind the source (the migration's latest lag sample)",
        )
        consumer = family(
            "consumer_lag_records",
            "Records the migrated consumer groups still have to read (latest lag sample)",
        )
        in_step = family(
            "step_seconds", "Seconds since the current run of the migration's step started"
        )
        gate_wait = family(
            "gate_wait_seconds", "Seconds the currently open approval gate has waited"
        )
        now = self.clock()
        for m in self.store.list(open_only=True):
            values = [m.id, str(m.step), str(m.status)]
            info.add_metric(values, 1)
            latest = self.store.lag_samples(m.id, 1)
            if latest and latest[-1].replication_lag is not None:
                replication.add_metric(values, latest[-1].replication_lag)
            if latest and latest[-1].consumer_lag is not None:
                consumer.add_metric(values, latest[-1].consumer_lag)
            runs = [r for r in self.store.step_runs(m.id) if r.step == m.step]
            since = _seconds_since(runs[-1].started_at, now) if runs else None
            if since is not None:
                in_step.add_metric(values, since)
            if gate := m.state.round_at(m.step):
                gate_wait.add_metric(values, max(0.0, now - gate.opened_at))
        yield from (info, replication, consumer, in_step, gate_wait)


class _Process:
    """This process's counters and histograms, for the scrape registry."""

    def collect(self):
        return REGISTRY.collect()

    def describe(self) -> list:
        return []


def render(store) -> bytes:
    """The Prometheus text exposition: this process's metrics and the open migrations."""
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(_Process())
    scrape.register(MigrationCollector(store))
    return generate_latest(scrape)
