"""What the bot sends to Slack survives rate limits and outages: a retry queue per migration.

Work for Slack is a list of sends per key (a migration): its lane, done in order. A send that
fails on a transient error (HTTP 429 or 5xx after the client's own retries, a connection error,
a timeout) stays at the head of its lane and the lane waits (1 s doubling to 30 s, at least what
Retry-After asked) while the other lanes go on. A send that fails on a definite error (a Slack
error code such as channel_not_found, invalid_blocks, msg_too_long) is logged once and dropped
with the rest of its job. A send may return sends to do next, before the rest of its lane: what
must happen once (a gate request closed in the store) is split from the Slack call that may be
repeated (the update of its message).
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.client import HTTPException
from urllib.error import HTTPError

from slack_sdk.errors import SlackApiError

from bot import metrics

log = logging.getLogger(__name__)

Send = Callable[[], "list[Send] | None"]
# Slack error codes that say "try again later" (sometimes with HTTP 200)
TRANSIENT_ERRORS = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)


def transient(exc: BaseException) -> float | None:
    """Seconds Slack asked to wait (0 when it did not say) when `exc` is worth retrying; None
    when it is definite."""
    if isinstance(exc, SlackApiError):
        status = exc.response.status_code
        if status == 429 or status >= 500 or _error(exc) in TRANSIENT_ERRORS:
            return _retry_after(exc.response.headers)
        return None
    if isinstance(exc, HTTPError):  # a file upload URL
        return _retry_after(dict(exc.headers or {})) if exc.code == 429 or exc.code >= 500 else None
    if isinstance(exc, OSError | HTTPException):  # refused, reset, timed out
        return 0.0
    return None


def describe(exc: BaseException) -> str:
    """One line for the log: the Slack error code and the HTTP status, or the exception."""
    if isinstance(exc, SlackApiError):
        error = _error(exc) or ""
        code = error if error and " " not in error else "an answer that is not JSON"
        said = f"{code} (HTTP {exc.response.status_code})"
    else:
        said = f"{type(exc).__name__}: {exc}"
    return " ".join(said.split())[:200]


def _error(exc: SlackApiError) -> str | None:
    data = exc.response.data
    return data.get("error") if isinstance(data, dict) else None


def _retry_after(headers) -> float:
    for key, value in (headers or {}).items():
        if key.lower() == "retry-after":
            value = value[0] if isinstance(value, list) else value
            try:
                return max(0.0, float(value))
            except ValueError:
                return 0.0
    return 0.0


@dataclass
class Backoff:
    first: float = 1.0
    cap: float = 30.0

    def delay(self, failures: int, asked: float = 0.0) -> float:
        """How long a lane waits after its `failures`-th failure in a row."""
        return max(asked, min(self.cap, self.first * 2 ** (failures - 1)))


@dataclass(eq=False)
class Job:
    """The sends of one notification: named in the log, dropped together on a definite error."""

    what: str
    dropped: bool = False


@dataclass
class Lane:
    items: deque[tuple[Job, Send]] = field(default_factory=deque)
    due: float = 0.0  # it waits until then after a transient failure
    failures: int = 0  # transient failures in a row


class Lanes:
    """One lane per key. Used by one thread (the notifier's worker); `pending` may be read from
    any thread."""

    def __init__(self, backoff: Backoff | None = None, clock: Callable[[], float] = time.monotonic):
        self.backoff = backoff or Backoff()
        self.clock = clock
        self._lanes: dict[str, Lane] = {}

    def add(self, key: str, what: str, sends: list[Send]) -> None:
        job = Job(what)
        self._lanes.setdefault(key, Lane()).items.extend((job, send) for send in sends)

    def pending(self) -> bool:
        """Some send is not done yet (waiting for its retry, or not tried)."""
        return any(lane.items for lane in list(self._lanes.values()))

    def waiting(self, key: str) -> bool:
        lane = self._lanes.get(key)
        return lane is not None and lane.due > self.clock()

    def run(self) -> None:
        """Every lane that is not waiting, in order, until it is done or fails transiently."""
        for key, lane in list(self._lanes.items()):
            while lane.items and lane.due <= self.clock():
                job, send = lane.items[0]
                if not job.dropped:
                    after = self._send(lane, job, send)
                    if after is None:
                        break
                    for i, more in enumerate(after, 1):  # before popping: never seen empty
                        lane.items.insert(i, (job, more))
                lane.items.popleft()
            if not lane.items and lane.failures == 0:
                del self._lanes[key]

    def attempt(self, key: str, what: str, send: Send) -> bool:
        """One send outside the order of its lane (a card update), under the same rules; what
        it returns goes first in the lane. False when it must be tried again (the lane waits)."""
        lane = self._lanes.setdefault(key, Lane())
        if lane.due > self.clock():
            return False
        job = Job(what)
        after = self._send(lane, job, send)
        if after is None:
            return False
        lane.items.extendleft((job, more) for more in reversed(after))
        return True

    def _send(self, lane: Lane, job: Job, send: Send) -> list[Send] | None:
        """Do one send: the sends it asks for next, or None when its lane must wait."""
        try:
            after = send() or []
        except Exception as exc:  # noqa: BLE001 - the worker must go on whatever Slack says
            metrics.call_error("slack")
            asked = transient(exc)
            if asked is None:
                job.dropped, lane.failures = True, 0  # Slack answers: no outage
                if isinstance(exc, SlackApiError):
                    log.error("%s not sent: Slack answered %s", job.what, describe(exc))
                else:  # not Slack's doing: the traceback helps
                    log.exception("%s not sent: %s", job.what, describe(exc))
                return []
            lane.failures += 1
            delay = self.backoff.delay(lane.failures, asked)
            lane.due = self.clock() + delay
            log.warning(
                "%s not sent yet: %s; trying again in %.0f s (%d failure(s) in a row)",
                job.what,
                describe(exc),
                delay,
                lane.failures,
            )
            return None
        lane.failures = 0
        return after
