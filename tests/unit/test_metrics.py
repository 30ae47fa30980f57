"""/metrics: per open migration, read from the database at scrape time, and the process's own
counters (tick durations, failed calls by target)."""

from __future__ import annotations

import time
from types import SimpleNamespace

from confluent_kafka import KafkaError, KafkaException
from prometheus_client.parser import text_string_to_metric_families

from bot import metrics
from bot.jobs import runner
from bot.kafka.cluster import KafkaOpError
from bot.migration.steps import Status, Step
from bot.replicators.base import ReplicatorError
from bot.schemas.client import RegistryError
from bot.slack.retrying import Lanes
from bot.web import wsgi_app
from tests.support import migration


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def labels(mid: str, step: str, status: str = "active") -> tuple:
    return tuple(sorted({"migration_id": mid, "step": step, "status": status}.items()))


def test_open_migrations_with_their_step_lag_and_gate(store):
    m = store.create(migration(step=Step.CATCH_UP), "U0ALICE")
    store.run_step(m.id, Step.CATCH_UP, actor="bot")
    store.add_lag(m.id, 900, None, 2)
    store.add_lag(m.id, 1234, 56, 2)  # the latest sample counts
    gated = store.create(
        migration("gated-xyz", topics=("other",), step=Step.STOP_PRODUCERS), "U0ALICE"
    )
    store.record_state(
        gated.id, "gate", {"step": "stop_producers", "opened_at": time.time() - 30, "version": 2}
    )
    store.create(migration("done-abc", topics=("x",), status=Status.COMPLETE), "U0ALICE")

    text = metrics.render(store).decode()
    got = samples(text)
    assert got[("kafka_migrate_migration_info", labels(m.id, "catch_up"))] == 1
    assert got[("kafka_migrate_replication_lag_records", labels(m.id, "catch_up"))] == 1234
    assert got[("kafka_migrate_consumer_lag_records", labels(m.id, "catch_up"))] == 56
    assert 0 <= got[("kafka_migrate_step_seconds", labels(m.id, "catch_up"))] < 60
    assert got[("kafka_migrate_migration_info", labels(gated.id, "stop_producers"))] == 1
    assert 30 <= got[("kafka_migrate_gate_wait_seconds", labels(gated.id, "stop_producers"))] < 90
    # no lag sample, no step run, no gate: absent, not 0
    assert ("kafka_migrate_replication_lag_records", labels(gated.id, "stop_producers")) not in got
    assert ("kafka_migrate_step_seconds", labels(gated.id, "stop_producers")) not in got
    assert ("kafka_migrate_gate_wait_seconds", labels(m.id, "catch_up")) not in got
    assert "done-abc" not in text  # closed migrations are not listed
    assert "# HELP kafka_migrate_replication_lag_records" in text
    for target in ("kafka", "connect", "slack", "registry"):  # present from the start
        assert ("kafka_migrate_call_errors_total", (("target", target),)) in got


def test_the_http_server_answers_metrics(store):
    store.create(migration(step=Step.CATCH_UP), "U0ALICE")
    app = wsgi_app(None, lambda: (True, {}), metrics=lambda: metrics.render(store))
    answered = {}

    def start_response(status, headers):
        answered.update(status=status, headers=dict(headers))

    body = b"".join(app({"PATH_INFO": "/metrics", "REQUEST_METHOD": "GET"}, start_response))
    assert answered["status"] == "200 OK"
    assert answered["headers"]["Content-Type"].startswith("text/plain; version=")
    assert b'kafka_migrate_migration_info{migration_id="orders-abc"' in body

    def failing():
        raise RuntimeError("database away")

    broken = wsgi_app(None, lambda: (True, {}), metrics=failing)
    broken({"PATH_INFO": "/metrics", "REQUEST_METHOD": "GET"}, start_response)
    assert answered["status"] == "503 Service Unavailable"


def errors(target: str) -> float:
    return metrics.REGISTRY.get_sample_value("kafka_migrate_call_errors_total", {"target": target})


def test_failed_calls_are_counted_by_target(engine, store):
    m = store.create(migration(step=Step.CATCH_UP), "U0ALICE")
    ctx = engine.mover.context(m)
    transport = KafkaException(KafkaError(KafkaError._TRANSPORT, "Connection refused"))
    cases = [
        (ReplicatorError("connect away"), "connect"),
        (RegistryError("registry away"), "registry"),
        (KafkaOpError("refused"), "kafka"),
        (transport, "kafka"),
    ]
    for exc, target in cases:
        before = errors(target)
        engine.mover._fault(ctx, Step.CATCH_UP, exc)
        assert errors(target) == before + 1, exc
    unrelated = {t: errors(t) for t in ("kafka", "connect", "slack", "registry")}
    engine.mover._fault(ctx, Step.CATCH_UP, ValueError("a bug"))
    assert {t: errors(t) for t in unrelated} == unrelated

    lanes = Lanes(clock=lambda: 0.0)
    before = errors("slack")

    def refused():
        raise ConnectionRefusedError("slack away")  # transient

    def buggy():
        raise ValueError("not Slack's doing")  # definite

    lanes.add("m1", "card", [refused])
    lanes.add("m2", "thread", [buggy])
    lanes.run()
    assert errors("slack") == before + 2


def test_tick_durations_by_step():
    class Mover:
        def tick(self, mid):
            time.sleep(0.01)
            return SimpleNamespace(id=mid, status="paused", step="drain")

    class Engine:
        store = SimpleNamespace(
            get=lambda mid: SimpleNamespace(id=mid, step="drain"), last_decisions=dict
        )
        mover = Mover()

    def count() -> float:
        value = metrics.REGISTRY.get_sample_value(
            "kafka_migrate_tick_seconds_count", {"step": "drain"}
        )
        return value or 0.0

    before = count()
    runner.bind(Engine())
    try:
        runner.tick("orders-7k2")
    finally:
        runner.bind(None)
    assert count() == before + 1
    total = metrics.REGISTRY.get_sample_value("kafka_migrate_tick_seconds_sum", {"step": "drain"})
    assert total >= 0.01
