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
