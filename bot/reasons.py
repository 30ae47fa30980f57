"""One mapping from an exception to the short reason a person reads (replies, alerts, the card,
the report, the CLI): what failed and, where it helps, what to check. Never empty, one line."""

from __future__ import annotations

import concurrent.futures
import re

import httpx
from confluent_kafka import KafkaError, KafkaException
from slack_sdk.errors import SlackApiError
from sqlalchemy.exc import SQLAlchemyError

from bot.errors import UserError
from bot.kafka.cluster import retriable

LIMIT = 300


def reason(exc: BaseException) -> str:
    text = _reason(exc).strip().splitlines()[0] if _reason(exc).strip() else ""
    if not text:
        text = f"{exc.__class__.__name__} (no details given)"
    return text if len(text) <= LIMIT else text[: LIMIT - 1] + "…"


def _reason(exc: BaseException) -> str:  # noqa: C901 - one case per kind of failure
    if isinstance(exc, UserError):
        return str(exc)
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        err: KafkaError = exc.args[0]
        text = err.str()
        if err.code() in (KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN) or (
            "Connection refused" in text
        ):
            return f"cannot reach the Kafka cluster ({text})"
        if err.code() == KafkaError._TIMED_OUT:
            return f"Kafka did not answer in time ({text})"
        return f"Kafka: {err.name()}: {text}"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot reach {_where(exc)} (connection refused or unreachable)"
    if isinstance(exc, httpx.TimeoutException):
        return f"{_where(exc)} did not answer in time"
    if isinstance(exc, httpx.HTTPStatusError):
        return f"{_where(exc)} answered HTTP {exc.response.status_code}"
    if isinstance(exc, httpx.HTTPError):
        return f"{_where(exc)}: {exc.__class__.__name__}"
    if isinstance(exc, SlackApiError):
        return f"Slack refused the call: {exc.response.get('error', 'unknown error')}"
    if isinstance(exc, SQLAlchemyError):
        return f"the bot's database failed: {str(getattr(exc, 'orig', exc) or '')[:120]}"
    if isinstance(exc, TimeoutError | concurrent.futures.TimeoutError):
        return "timed out waiting for an answer"
    if isinstance(exc, RecursionError):
        return "the input is nested too deeply"
    if isinstance(exc, re.error):
        return f"invalid regex: {exc.msg}"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}" + (f": {exc.filename}" if exc.filename else "")
    return str(exc)


# Kafka errors that say "not now", not "no": the cluster is away, busy or still propagating
_TRANSIENT_KAFKA = (
    "_TRANSPORT",
    "_ALL_BROKERS_DOWN",
    "_TIMED_OUT",
    "UNKNOWN_TOPIC_OR_PART",
    "No leaders found",  # librdkafka's metadata right after a broker is back (_NOENT)
    "Connection refused",
    "cannot reach",
    "did not answer in time",
    "timed out",
    "rebalanc",
)


def transient(exc: BaseException) -> bool:
    """A fault that should pass (a broker, Connect or a network away for a while): the step
    holds as degraded and retries, instead of failing."""
    if getattr(exc, "retriable", False):  # KafkaOpError: every failure in it may pass
        return True
    if isinstance(exc, UserError) and not _said_transient(str(exc)):
        return False
    if isinstance(exc, httpx.TransportError | TimeoutError | concurrent.futures.TimeoutError):
        return True
    if isinstance(exc, KafkaException):
        return retriable(exc)
    if isinstance(exc, httpx.HTTPStatusError):
        return exc.response.status_code >= 500 or exc.response.status_code == 409
    return _said_transient(str(exc))


def _said_transient(text: str) -> bool:
    return any(mark in text for mark in _TRANSIENT_KAFKA)


def _where(exc: httpx.HTTPError) -> str:
    try:
        url = exc.request.url
    except RuntimeError:  # no request attached
        return "the service"
    return f"{url.scheme}://{url.host}:{url.port}"
