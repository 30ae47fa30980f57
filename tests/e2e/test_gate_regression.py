"""A gate closes when its condition regresses before it is used, and must be approved again."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.e2e.harness import LiveProducer, Workspace
from tests.kafka_helpers import create_topic, produce

pytestmark = pytest.mark.sandbox


def test_gates_close_on_lag_regression_and_on_a_new_write(sandbox, tmp_path, unique):
    ws = Workspace(sandbox, tmp_path, quiet=2, drain=1, ready=0)
    src = sandbox.source.client_config()
    topic = f"regress-{unique}"
    create_topic(src, topic, 1)
    produce(src, topic, [(None, b"first", [])])
    ws.serve()
    try:
        mid = ws.start(
            f"regress source=sandbox-source target=sandbox-target topics={topic} via=sandbox-mm2"
        )
        first = ws.wait_gate(mid, "stop_producers", 120)

        producer = LiveProducer(src, topic, "burst", rate_per_s=1000)
        producer.start()
        ws.wait_step(mid, "catch_up", 60)  # replication lag rose: the gate closed
        producer.stop()
        stale = ws.cli(
            "approve",
            mid,
            "--version",
            str(first["version"]),
            "--step",
            "stop_producers",
            user="bob",
        )
        # refused either way: the gate closed (back at catch_up), or it already opened again at a
        # newer version when the command ran
        assert stale.returncode == 2, stale.stderr
        assert "not open for approval" in stale.stderr or "stale approval" in stale.stderr

        second = ws.wait_gate(mid, "stop_producers", 120)
        assert second["version"] > first["version"]
        ws.ok("approve", mid, "--version", str(second["version"]), user="bob")
        repoint = ws.wait_gate(mid, "repoint_clients", 120)

        produce(src, topic, [(None, b"forgotten cron job", [])])  # a producer writes again
        ws.wait_step(mid, "producers_stopped", 60)
        old = ws.cli(
            "approve",
            mid,
            "--version",
            str(repoint["version"]),
            "--step",
            "repoint_clients",
            user="bob",
        )
        # refused either way, as above: closed (back at producers_stopped), or already open again
        # at a newer version when the command ran
        assert old.returncode == 2, old.stderr
        assert "not open for approval" in old.stderr or "stale approval" in old.stderr
        reopened = ws.wait_gate(mid, "repoint_clients", 120)
        assert reopened["version"] > repoint["version"]

        report = json.loads(ws.ok("report", mid, "--json"))
        reasons = [e["reason"] or "" for e in report["timeline"] if e["kind"] == "regressed"]
        assert any("replication fell behind" in r for r in reasons)
        assert any("a producer wrote again" in r for r in reasons)
        ws.ok("cancel", mid, "--yes")
    finally:
        ws.stop_serve()
        with httpx.Client(base_url=sandbox.connect_url) as connect:
            for name in connect.get("/connectors").json():
                if name.startswith("km-regress-"):
                    connect.delete(f"/connectors/{name}")


def test_an_unanswered_gate_expires_and_is_asked_again(sandbox, tmp_path, unique):
    ws = Workspace(sandbox, tmp_path, ready=0, expiry=10)
    topic = f"expiry-{unique}"
    create_topic(sandbox.source.client_config(), topic, 1)
    ws.serve()
    try:
        mid = ws.start(
            f"expiry source=sandbox-source target=sandbox-target topics={topic} via=sandbox-mm2"
        )
        first = ws.wait_gate(mid, "stop_producers", 120)
        again = ws.wait(
            mid,
            lambda s: (
                s["gate"]
                and s["gate"]["version"] > first["version"]
                and s["gate"]["version"] == s["version"]
            ),
            30,
            "gate asked again",
        )
        # the new request is answered first (before it too expires), then the old one is stale
        ws.ok("approve", mid, "--version", str(again["version"]), user="bob")
        late = ws.cli("approve", mid, "--version", str(first["version"]), user="bob")
        assert late.returncode == 2, late.stderr
        report = json.loads(ws.ok("report", mid, "--json"))
        assert "gate_expired" in [e["kind"] for e in report["timeline"]]
        ws.wait_reached(mid, "producers_stopped", 30)
        ws.ok("cancel", mid, "--yes")
    finally:
        ws.stop_serve()
        with httpx.Client(base_url=sandbox.connect_url) as connect:
            for name in connect.get("/connectors").json():
                if name.startswith("km-expiry-"):
                    connect.delete(f"/connectors/{name}")
