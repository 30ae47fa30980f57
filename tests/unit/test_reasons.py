"""One short reason per failure, and which failures are faults that pass."""

from __future__ import annotations

import httpx
import pytest
from confluent_kafka import KafkaError, KafkaException

from bot.errors import UserError
from bot.kafka.cluster import KafkaOpError
from bot.reasons import reason, transient
from bot.replicators.base import ReplicatorError


def connect_refused() -> httpx.ConnectError:
    request = httpx.Request("GET", "http://127.0.0.1:8083/connectors")
    return httpx.ConnectError("[Errno 111] Connection refused", request=request)


@pytest.mark.parametrize(
    ("exc", "text", "passes"),
    [
        (
            KafkaException(KafkaError(KafkaError._TRANSPORT, "Connection refused")),
            "cannot reach the Kafka cluster (Connection refused)",
            True,
        ),
        (
            KafkaException(KafkaError(KafkaError._TIMED_OUT, "Timed out")),
            "Kafka did not answer in time",
            True,
        ),
        (
            KafkaException(KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED, "denied")),
            "Kafka: TOPIC_AUTHORIZATION_FAILED: denied",
            False,
        ),
        (connect_refused(), "cannot reach http://127.0.0.1:8083", True),
        (
            KafkaOpError("list offsets on source failed for t: _TIMED_OUT: timed out"),
            "list offsets on source failed",
            True,
        ),
        (
            KafkaOpError(
                "list offsets on source failed for t[0]: _NOENT: Failed to query partition "
                "leaders: No leaders found"
            ),
            "list offsets on source failed",
            True,
        ),
        (
            ReplicatorError("Kafka Connect at http://c:8083: GET /: cannot reach http://c:8083"),
            "Kafka Connect at http://c:8083",
            True,
        ),
        (ReplicatorError("Kafka Connect: PUT /x: 400 bad config"), "400 bad config", False),
        (UserError("principal map: 'x' is not 'User:from=User:to'"), "principal map", False),
        (RecursionError(), "the input is nested too deeply", False),
        (KafkaException(), "KafkaException (no details given)", False),
        (ValueError(""), "ValueError (no details given)", False),
    ],
)
def test_reasons_are_short_never_empty_and_faults_are_told_apart(exc, text, passes):
    said = reason(exc)
    assert text in said and "\n" not in said and len(said) <= 300
    assert transient(exc) is passes
