"""The lease that makes one process the mover, on a real SQLite database, with the scheduler
as a port (start/stop recorded): takeover after expiry, at once from a dead holder on this host,
and a holder that lost the lease stops moving."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from bot.jobs import runner


class Scheduler:
    """What the leads asked of the process's scheduler, in order."""

    def __init__(self):
        self.calls: list[str] = []

    def start(self, engine, *, paused=False):
        self.calls.append(f"start {engine.name}")
        return object()

    def stop(self):
        self.calls.append("stop")


class Named:
    def __init__(self, name, store):
        self.name, self.store = name, store


@pytest.fixture
def scheduler(monkeypatch):
    fake = Scheduler()
    monkeypatch.setattr(runner, "start", fake.start)
    monkeypatch.setattr(runner, "stop", fake.stop)
    monkeypatch.setattr(runner, "LEASE_TTL", 0.3)
    return fake


def test_one_leads_the_other_waits_then_takes_over_when_the_lease_runs_out(store, scheduler):
    first, second = runner.Lead(Named("a", store)), runner.Lead(Named("b", store))
    first._renew()
    second._renew()
    assert (first.leading, second.leading, scheduler.calls) == (True, False, ["start a"])
    second._renew()
    assert not second.leading  # still valid: no takeover
    time.sleep(0.35)  # the first stopped renewing (frozen, partitioned)
    second._renew()
    assert second.leading and second.leader == second.holder
    first._renew()  # it comes back: it lost the lease and stops moving
    assert not first.leading and first.scheduler is None
    assert scheduler.calls == ["start a", "start b", "stop"]


def test_a_dead_holder_on_this_host_is_taken_over_at_once(store, scheduler, monkeypatch):
    monkeypatch.setattr(runner, "LEASE_TTL", 60.0)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    dead = runner.Lead(Named("dead", store))
    dead.holder = f"{dead.holder.split(':')[0]}:{gone.pid}:x"
    dead._renew()
    assert dead.leading
    alive = runner.Lead(Named("alive", store))
    alive._renew()
    assert alive.leading and alive.leader == alive.holder


def test_a_live_holder_is_never_taken_over_before_its_lease_ends(store, scheduler, monkeypatch):
    monkeypatch.setattr(runner, "LEASE_TTL", 60.0)
    first, second = runner.Lead(Named("a", store)), runner.Lead(Named("b", store))
    first._renew()
    for _ in range(3):
        second._renew()
    assert first.leading and not second.leading and scheduler.calls == ["start a"]
