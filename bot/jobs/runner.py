"""The scheduler of the one process that moves migrations, and its jobs."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import socket
import threading
import time

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_RUNNING, STATE_STOPPED

from bot import logs, metrics
from bot.migration.pace import poll_interval
from bot.migration.steps import CUTOVER, INFO, Status

log = logging.getLogger(__name__)
_engine = None  # the Engine of this process (set by bind)
RECONCILE_SECONDS = 1  # a migration started or resumed anywhere is moved within a second
LEASE = "mover"
LEASE_TTL = 15.0  # a holder that stops renewing loses it after this (so takeover < 20 s)
RENEW_SECONDS = 4.0


def bind(engine) -> None:
    global _engine
    _engine = engine


def tick_id(migration_id: str) -> str:
    return f"tick:{migration_id}"


def tick(migration_id: str) -> None:
    """Job: move one migration as far as it can go now, then set the next poll interval."""
    if _engine is None:
        log.error("no engine bound: cannot tick %s", migration_id)
        return
    with _running():
        _tick(migration_id)


def _tick(migration_id: str) -> None:
    step = str(_engine.store.get(migration_id).step)
    with logs.context(migration_id, step):
        # the decisions before the tick: one made while it runs is news for the next reconcile
        decided = _engine.store.last_decisions()
        began = time.perf_counter()
        try:
            m = _engine.mover.tick(migration_id)
        finally:
            metrics.observe_tick(step, time.perf_counter() - began)
        _reschedule(m, decided)


def _reschedule(m, decided: dict[str, int]) -> None:
    """The next poll: sooner while replication is far behind, per the step's kind."""
    if m.status != Status.ACTIVE:
        return
    if _scheduler is None or _scheduler.state != STATE_RUNNING:
        return  # stopping: nothing is rescheduled
    version = _engine.store.get(m.id).version  # the tick's own writes are not news
    _ticked[m.id] = _mark(m.id, version, decided)
    samples = _engine.store.lag_samples(m.id, 1)
    lag = samples[-1].replication_lag if samples else None
    timing = _engine.settings.config.timing
    cutover = timing.cutover_poll_seconds if m.step in CUTOVER else None
    wanted = poll_interval(timing.poll_interval_seconds, lag, INFO[m.step].kind, cutover)
    job = _scheduler.get_job(tick_id(m.id)) if _scheduler else None
    if job is not None and job.trigger.interval.total_seconds() != wanted:
        _scheduler.reschedule_job(job.id, trigger="interval", seconds=wanted)


def kick(migration_id: str) -> None:
    """Tick the migration now rather than at its next poll."""
    if _scheduler is None or _scheduler.state == STATE_STOPPED:
        return
    with contextlib.suppress(JobLookupError):
        _scheduler.modify_job(tick_id(migration_id), next_run_time=_now())


# each migration as its last tick left it: (version at its end, latest decision at its start)
_ticked: dict[str, tuple[int, int | None]] = {}


def _mark(migration_id: str, version: int, decisions: dict[str, int]) -> tuple[int, int | None]:
    return version, decisions.get(migration_id)


def reconcile() -> None:
    """Job: one tick job per active migration, none for the others (also after a restart);
    a migration changed by someone else since its last tick (a gate approved in Slack, on the
    CLI, in another process) is ticked now, not at its next poll."""
    if _engine is None or _scheduler is None:
        return
    with _running():
        _reconcile()


def _reconcile() -> None:
    listed = {m.id: m for m in _engine.store.list(open_only=True) if m.status == Status.ACTIVE}
    active = set(listed)
    decisions = _engine.store.last_decisions() if listed else {}
    jobs = {job.id for job in _scheduler.get_jobs() if job.id.startswith("tick:")}
    for migration_id in active:
        now = _mark(migration_id, listed[migration_id].version, decisions)
        if tick_id(migration_id) not in jobs:
            schedule(migration_id)
        elif _ticked.get(migration_id, now) != now:
            _ticked.pop(migration_id, None)
            kick(migration_id)
    for job_id in jobs - {tick_id(m) for m in active}:
        with contextlib.suppress(JobLookupError):
            _scheduler.remove_job(job_id)


_scheduler: BackgroundScheduler | None = None


def schedule(migration_id: str, seconds: int | None = None) -> None:
    if _scheduler is None or _scheduler.state == STATE_STOPPED:
        return  # stopping: a reconcile still running adds nothing
    seconds = seconds or _engine.settings.config.timing.poll_interval_seconds
    _scheduler.add_job(
        tick,
        "interval",
        seconds=seconds,
        args=[migration_id],
        id=tick_id(migration_id),
        replace_existing=True,
        misfire_grace_time=max(seconds, 5),
        coalesce=True,
        max_instances=1,
        next_run_time=_now(),
    )


def _now():
    from datetime import UTC, datetime

    return datetime.now(UTC)


def start(engine, *, paused: bool = False) -> BackgroundScheduler:
    """Start this process's scheduler, reconciled at once. Its jobs live in memory: they are
    derived from the migrations table (`reconcile`: one tick job per active migration), so a
    restarted or new leader rebuilds them within a second and nothing stale survives."""
    global _scheduler
    bind(engine)
    scheduler = BackgroundScheduler(
        jobstores={"default": MemoryJobStore()},
        executors={"default": ThreadPoolExecutor(max_workers=10)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 30},
        timezone="UTC",
    )
    _scheduler = scheduler
    scheduler.start(paused=paused)
    scheduler.add_job(
        reconcile,
        "interval",
        seconds=RECONCILE_SECONDS,
        id="reconcile",
        replace_existing=True,
        next_run_time=_now(),
    )
    return scheduler


def stop(timeout: float = 120.0) -> bool:
    """Stop moving migrations: no job is submitted any more, then the running ticks finish.
    The scheduler is shut down without waiting and the jobs are waited for here: APScheduler's
    own wait holds its job stores' lock, and a job asking the scheduler anything meanwhile
    (reconcile lists its jobs, a kick moves one) would wait for that lock forever. False when
    a job still runs after `timeout` (the process ends it as a crash would)."""
    global _scheduler
    finished = True
    if _scheduler is not None:
        _scheduler.pause()
        _scheduler.remove_all_jobs()
        _scheduler.shutdown(wait=False)
        with _jobs_done:
            finished = _jobs_done.wait_for(lambda: _busy[0] == 0, timeout)
        if not finished:
            log.warning("stopping with %d job(s) still running", _busy[0])
        _scheduler = None
    return finished


# the jobs of this process running now, for stop() to wait for
_busy = [0]
_jobs_done = threading.Condition()


@contextlib.contextmanager
def _running():
    with _jobs_done:
        _busy[0] += 1
    try:
        yield
    finally:
        with _jobs_done:
            _busy[0] -= 1
            _jobs_done.notify_all()


def _dead_here(holder: str) -> bool:
    """A holder on this host whose process is gone: its lease need not run out first."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


class Lead:
    """Exactly one `serve` process moves migrations: the one holding the database lease. It runs
    the scheduler; the others (a rolling deploy, Procfile scale 2 on PostgreSQL) serve Slack and
    wait, renewing nothing, and the first to find the lease expired takes over."""

    def __init__(self, engine, *, paused: bool = False):
        self.engine, self.paused = engine, paused
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.leader: str | None = None  # the holder we last saw
        self.scheduler: BackgroundScheduler | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._keep, name="lease", daemon=True)

    @property
    def leading(self) -> bool:
        return self.leader == self.holder

    def begin(self) -> Lead:
        self._renew()
        self._thread.start()
        return self

    def _renew(self) -> None:
        try:
            lease = self.engine.store.hold_lease(LEASE, self.holder, LEASE_TTL)
            if lease.holder != self.holder and _dead_here(lease.holder):
                log.info("the lease holder %s is gone (killed?): taking over", lease.holder)
                lease = self.engine.store.hold_lease(
                    LEASE, self.holder, LEASE_TTL, stale_holder=lease.holder
                )
        except Exception:  # noqa: BLE001 - the database is away: keep what we had, retry
            log.warning("cannot renew the lease; retrying", exc_info=False)
            return
        was, self.leader = self.leading, lease.holder
        if self.leading and self.scheduler is None:
            log.info("this process (%s) moves migrations now", self.holder)
            self.scheduler = start(self.engine, paused=self.paused)
        elif not self.leading and was:
            log.warning("lease lost to %s: this process stops moving migrations", self.leader)
            stop()
            self.scheduler = None

    def _keep(self) -> None:
        while not self._stop.wait(RENEW_SECONDS):
            self._renew()

    def end(self) -> None:
        self._stop.set()
        finished = True
        if self.scheduler is not None:
            finished = stop()
            self.scheduler = None
        if self.leading and finished:  # a tick still running keeps the lease until it expires
            with contextlib.suppress(Exception):
                self.engine.store.release_lease(LEASE, self.holder)
