"""/metrics of a real `serve` process during a real migration: the step, the replication lag
and, once the stop_producers gate is open, how long it has waited."""

from __future__ import annotations

import socket

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.harness import Workspace
from tests.kafka_helpers import create_topic, produce
from tests.waits import wait_for

pytestmark = pytest.mark.sandbox


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(http: httpx.Client, mid: str) -> dict[str, dict]:
    """The samples about `mid`: metric name -> (labels, value)."""
    try:
        answer = http.get("/metrics")
    except httpx.TransportError:  # not listening yet
        return {}
    assert answer.status_code == 200, answer.text
    return {
        s.name: {**s.labels, "value": s.value}
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
        if s.labels.get("migration_id") == mid
    }


def test_metrics_follow_a_migration_to_its_gate(sandbox, unique):
    src = sandbox.source.client_config()
    topic = f"metered-{unique}"
    create_topic(src, topic, 2)
    produce(src, topic, [(str(i).encode(), b"x" * 100, []) for i in range(500)])
    port = free_port()
    ws = Workspace(sandbox, ready=0)
    ws.serve(port=port)
    try:
        http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
        mid = ws.start(
            f"metered source=sandbox-source target=sandbox-target topics={topic} "
            "via=sandbox-mm2 replication_policy=identity"
        )
        seen: dict = {}

        def lag_shown() -> bool:
            seen.update(scrape(http, mid))
            lag = seen.get("kafka_migrate_replication_lag_records")
            return lag is not None and lag["step"] in ("catch_up", "stop_producers")

        wait_for(lag_shown, 180, "a replication lag sample on /metrics", every=0.5)
        info = seen["kafka_migrate_migration_info"]
        assert info["value"] == 1 and info["status"] == "active"
        assert info["step"] in ("catch_up", "stop_producers")
        assert seen["kafka_migrate_replication_lag_records"]["value"] >= 0
        assert seen["kafka_migrate_step_seconds"]["value"] >= 0

        ws.wait_gate(mid, "stop_producers", 180)

        def gate_shown() -> bool:
            seen.clear()
            seen.update(scrape(http, mid))
            return "kafka_migrate_gate_wait_seconds" in seen

        wait_for(gate_shown, 30, "gate_wait_seconds on /metrics", every=0.5)
        gate = seen["kafka_migrate_gate_wait_seconds"]
        assert gate["step"] == "stop_producers" and gate["value"] >= 0
        assert seen["kafka_migrate_replication_lag_records"]["step"] == "stop_producers"
        text = http.get("/metrics").text
        # ticks by the step they began at (catch_up may be done within the tick that began it)
        assert 'kafka_migrate_tick_seconds_count{step="' in text
        assert http.get("/healthz").json()["ok"] is True

        ws.ok("cancel", mid, "--yes")
        ws.wait(mid, lambda s: s["status"] == "cancelled", 60, "cancelled")
        wait_for(lambda: not scrape(http, mid), 30, "a cancelled migration leaves /metrics")
    finally:
        ws.stop_serve()
