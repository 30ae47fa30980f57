"""SIGKILL the engine during catch_up and during drain: it resumes without repeating side
effects and re-verifies the attestations instead of trusting what it stored."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from tests.e2e.harness import LiveProducer, Workspace
from tests.kafka_helpers import create_topic
from tests.waits import wait_for

pytestmark = pytest.mark.sandbox
DRAIN_WINDOW = 6


def connectors(sandbox, mid: str) -> list[str]:
    with httpx.Client(base_url=sandbox.connect_url) as connect:
        return sorted(c for c in connect.get("/connectors").json() if c.startswith(f"km-{mid}-"))


def test_killed_engine_resumes_without_repeating_side_effects(sandbox, tmp_path, unique):
    ws = Workspace(sandbox, tmp_path, quiet=2, drain=DRAIN_WINDOW, ready=0)
    src = sandbox.source.client_config()
    topic = f"crash-{unique}"
    create_topic(src, topic, 2)
    producer = LiveProducer(src, topic, "rec", rate_per_s=400)
    producer.start()
    ws.serve()
    try:
        mid = ws.start(
            f"crash source=sandbox-source target=sandbox-target topics={topic} via=sandbox-mm2"
        )
        ws.wait(mid, lambda s: s["step"] == "catch_up" and s["waiting_for"], 120, "catch_up")
        ws.kill_serve()
        parts = connectors(sandbox, mid)
        assert len(parts) == 3

        before = len(ws.lag_samples(mid))
        ws.serve()
        # several ticks of the new process (each samples the lag) while the producer still writes
        wait_for(lambda: len(ws.lag_samples(mid)) >= before + 3, 60, "three ticks after restart")
        assert ws.status(mid)["step"] == "catch_up"
        producer.stop()
        gate = ws.wait_gate(mid, "stop_producers", 120)
        ws.ok("approve", mid, "--version", str(gate["version"]), user="bob")
        ws.wait_step(mid, "drain", 60)
        ws.kill_serve()
        restarted = datetime.now(UTC)
        ws.serve()
        ws.wait_reached(mid, "consumers_stopped", 120)
        assert connectors(sandbox, mid) == parts  # no second connector

        report = json.loads(ws.ok("report", mid, "--json"))
        timeline = report["timeline"]
        kinds = [e["kind"] for e in timeline]
        created = [e for e in timeline if e["kind"] == "step_done" and e["step"] == "create_topics"]
        assert len(created) == 1 and "1 created" in created[0]["message"]
        assert kinds.count("reverify") >= 1
        drained = [e for e in timeline if e["kind"] == "step_done" and e["step"] == "drain"]
        assert len(drained) == 1
        drained_at = datetime.fromisoformat(drained[0]["at"])
        if drained_at.tzinfo is None:
            drained_at = drained_at.replace(tzinfo=UTC)
        # the drain was observed again, for its whole window, by the restarted process
        assert (drained_at - restarted).total_seconds() >= DRAIN_WINDOW - 0.5
        ws.ok("cancel", mid, "--yes")
    finally:
        producer.stop()
        ws.stop_serve()
        with httpx.Client(base_url=sandbox.connect_url) as connect:
            for name in connectors(sandbox, mid) if "mid" in locals() else []:
                connect.delete(f"/connectors/{name}")
