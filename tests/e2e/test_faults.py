"""Faults are not failures: a broker frozen for a while holds the step as "degraded"; once it
answers again the migration goes on, and nothing is lost."""

from __future__ import annotations

import os
import signal
import time

import httpx
import pytest

from tests.e2e.harness import Workspace
from tests.kafka_helpers import create_topic, produce

pytestmark = pytest.mark.sandbox


def test_a_source_broker_frozen_during_catch_up_degrades_the_step_then_it_goes_on(sandbox, unique):
    src = sandbox.source.client_config()
    topic = f"frozen-{unique}"
    create_topic(src, topic, 2)
    produce(src, topic, [(None, f"r{i}".encode(), []) for i in range(100)])
    ws = Workspace(sandbox, quiet=2, drain=1, ready=0)
    ws.serve()
    pid = sandbox.pids["source"]
    try:
        mid = ws.start(
            f"frozen source=sandbox-source target=sandbox-target topics={topic} via=sandbox-mm2"
        )
        ws.wait_reached(mid, "catch_up", 120)
        os.kill(pid, signal.SIGSTOP)  # the source broker stops answering, mid-catch_up
        try:
            held = ws.wait(
                mid, lambda s: (s["note"] or "").startswith("degraded for"), 90, "degraded"
            )
            assert held["status"] == "active"
            said = ("timed out", "did not answer in time", "cannot reach")
            assert any(words in held["note"] for words in said), held["note"]
            time.sleep(5)
            assert ws.status(mid)["status"] == "active"  # held, not failed
        finally:
            os.kill(pid, signal.SIGCONT)
        ws.wait_gate(mid, "stop_producers", 180)
        ws.wait(  # a leader epoch fenced for a moment after the thaw is a fault that passes too
            mid,
            lambda s: s["step"] == "stop_producers" and not (s["note"] or "").startswith("degr"),
            120,
            "the gate waiting for approval, no longer degraded",
        )
        log = ws.serve_log.read_text()
        assert "degraded for" in log and "Traceback" not in log
    finally:
        os.kill(pid, signal.SIGCONT)
        ws.stop_serve()
        with httpx.Client(base_url=sandbox.connect_url) as connect:
            for name in connect.get("/connectors").json():
                if name.startswith("km-frozen-"):
                    connect.delete(f"/connectors/{name}")
