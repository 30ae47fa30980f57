"""Slack's acks before the work that follows them, in one process.

A request is owed its ack within 3 s; what a listener does after the ack (lazily: reading the
database, rendering, answering through response_url, moving a migration) is owed nothing so
soon. In one process both run under one interpreter lock, so lazy work that runs during a
burst of requests delays every ack by as much as it runs (each time an ack's thread wakes it
waits for the lock, up to the interpreter's switch interval). `Acks` counts the requests whose
ack is not sent yet (the web edge and the Socket Mode handler enter `owed` for each); bolt's
runner of lazy listeners is replaced by `LazyRunner`, whose jobs start only once no ack has
been owed for a moment, or after `patience` seconds at most, so a steady stream of requests
holds no answer back for long. Nothing is dropped: each lazy job still runs, on the listener
pool, in the order submitted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from contextlib import contextmanager
from logging import Logger

from slack_bolt import App, BoltRequest
from slack_bolt.lazy_listener.internals import build_runnable_function
from slack_bolt.lazy_listener.thread_runner import ThreadLazyListenerRunner


class Acks:
    """How many requests are owed their ack, and a wait until none has been for a moment.

    Requests come in bursts (a channel clicking through a gate, a script of commands): between
    two acks of a burst none may be owed for a millisecond, and a lazy job started then would
    hold the interpreter when the next request arrives. So the wait is for `quiet` seconds
    without an ack owed; `patience` after a job was submitted it runs regardless, for a stream
    of requests that never pauses. The acks only count (no waiter is woken at each one: eight
    threads woken per ack would cost the acks more than they save); one waiting job at a time
    looks at the clock, every `quiet` seconds at most, the others sleep until it is done."""

    def __init__(self, *, quiet: float = 0.05, patience: float = 2.0):
        self.quiet, self.patience = quiet, patience
        self._owed = 0
        self._last = 0.0  # when the last ack owed was sent (time.monotonic)
        self._count = threading.Lock()
        self._turn = threading.Lock()  # held by the job looking at the clock

    @contextmanager
    def owed(self) -> Iterator[None]:
        """Around a request, from when it is read until its ack is handed to the transport."""
        with self._count:
            self._owed += 1
        try:
            yield
        finally:
            with self._count:
                self._owed -= 1
                self._last = time.monotonic()

    def wait_quiet(self, deadline: float | None = None) -> bool:
        """Until no ack has been owed for `quiet` seconds (True), or until `deadline` (by
        default `patience` seconds from now; False)."""
        deadline = deadline if deadline is not None else time.monotonic() + self.patience
        with self._turn:
            while (now := time.monotonic()) < deadline:
                with self._count:
                    owed, last = self._owed, self._last
                if owed:  # look again in a while
                    pause = max(self.quiet, 0.005)
                elif (pause := last + self.quiet - now) <= 0:
                    return True
                time.sleep(min(pause, deadline - now))
            return False


class LazyRunner(ThreadLazyListenerRunner):
    """bolt's runner of lazy listeners, each job waiting first until no ack is owed."""

    def __init__(self, logger: Logger, executor: Executor, acks: Acks):
        super().__init__(logger=logger, executor=executor)
        self.acks = acks

    def start(self, function: Callable[..., None], request: BoltRequest) -> None:
        deadline = time.monotonic() + self.acks.patience  # from now, not from its turn

        def after_acks() -> None:
            self.acks.wait_quiet(deadline)
            build_runnable_function(func=function, logger=self.logger, request=request)()

        self.executor.submit(after_acks)


def acks_first(app: App, executor: Executor, acks: Acks) -> None:
    """`app`'s lazy listeners run on `executor`, after the acks owed (the runner is bolt's
    listener runner's public attribute; App takes no runner of its own)."""
    app.listener_runner.lazy_listener_runner = LazyRunner(app.logger, executor, acks)
