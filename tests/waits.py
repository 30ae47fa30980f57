"""Waiting for what real systems do asynchronously: poll a condition, fail with what was seen."""

from __future__ import annotations

import time


def wait_for(predicate, timeout: float = 90, what: str = "condition", every: float = 0.1):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"{what} not reached in {timeout}s (last: {last!r})")
