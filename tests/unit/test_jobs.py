"""The scheduler: one tick job per active migration, derived from the migrations table."""

from __future__ import annotations

from bot.jobs import runner
from bot.migration.steps import Status
from tests.support import migration


def test_reconcile_schedules_active_migrations_and_drops_the_rest(engine, store):
    m = store.create(migration(), "U0ALICE")
    store.create(migration("paused-xyz", topics=("other",), status=Status.PAUSED), "U0ALICE")
    scheduler = runner.start(engine, paused=True)  # jobs are kept, none runs
    try:
        runner.reconcile()
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert set(jobs) == {"reconcile", f"tick:{m.id}"}
        tick = jobs[f"tick:{m.id}"]
        assert tick.args == (m.id,) and tick.func is runner.tick
        assert tick.coalesce and tick.max_instances == 1 and tick.misfire_grace_time >= 5

        engine.verbs.pause(m.id, "U0BOB")
        runner.reconcile()
        assert {job.id for job in scheduler.get_jobs()} == {"reconcile"}
        runner.schedule(m.id)  # replace_existing: scheduling twice keeps one job
        runner.schedule(m.id)
        assert [j.id for j in scheduler.get_jobs()].count(f"tick:{m.id}") == 1
    finally:
        runner.stop()


def test_a_decision_made_elsewhere_ticks_the_migration_at_once(engine, store):
    """An approval recorded by another process (the CLI, the other bot) changes no version:
    reconcile sees the new decision and ticks the migration now, not at its next poll."""
    from datetime import UTC, datetime, timedelta

    from bot.models import Approval

    m = store.create(migration(), "U0ALICE")
    scheduler = runner.start(engine, paused=True)
    try:
        runner.reconcile()
        later = datetime.now(UTC) + timedelta(minutes=5)
        scheduler.modify_job(f"tick:{m.id}", next_run_time=later)  # as after a tick
        runner._ticked[m.id] = runner._mark(m.id, store.get(m.id).version, store.last_decisions())
        runner.reconcile()  # nothing changed: the poll stands
        assert scheduler.get_job(f"tick:{m.id}").next_run_time == later
        store.add_approval(
            Approval(
                migration_id=m.id,
                step="stop_producers",
                decision="approved",
                actor="U0BOB",
                interface="cli",
                version=store.get(m.id).version,
            )
        )
        runner.reconcile()
        assert scheduler.get_job(f"tick:{m.id}").next_run_time < later - timedelta(minutes=4)
    finally:
        runner.stop()


def test_stop_waits_for_a_reconcile_that_asks_the_scheduler_while_it_stops(engine, store):
    """A reconcile still running when the process stops lists the scheduler's jobs after the
    stop began: stop waits for it and returns (APScheduler's own wait held the lock it needs)."""
    import threading

    store.create(migration(), "U0ALICE")
    inside, stopping = threading.Event(), threading.Event()
    real = store.last_decisions

    def slow_decisions():
        inside.set()
        stopping.wait(10)
        return real()

    store.last_decisions = slow_decisions
    scheduler = runner.start(engine)  # its first reconcile runs at once, in the scheduler
    assert inside.wait(10)
    stopper = threading.Thread(target=lambda: stopped.append(runner.stop()), daemon=True)
    stopped: list[bool] = []
    stopper.start()
    stopper.join(0.5)  # stop has begun and waits for the reconcile
    assert stopped == []
    stopping.set()
    stopper.join(30)
    assert stopped == [True]
    assert scheduler.get_jobs() == []  # the reconcile scheduled nothing after the stop
