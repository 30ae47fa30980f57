"""A connection to one Kafka cluster: the AdminClient and the clients built from one config."""

from __future__ import annotations

import concurrent.futures
import functools
import logging
import socket
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, TypeVar

from confluent_kafka import Consumer, KafkaError, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient

from bot.secrets import ClientConfig

if TYPE_CHECKING:
    from bot.aiven.service import AivenService

log = logging.getLogger(__name__)
TIMEOUT = 30.0  # seconds for one admin round
TP = tuple[str, int]  # (topic, partition): the one name for it
T = TypeVar("T")


class KafkaOpError(RuntimeError):
    """A Kafka call failed; the message names the call and the broker's error. `retriable`:
    every failure in it is one Kafka says may pass (a timeout, a leader moving, a fenced
    epoch after a broker came back)."""

    def __init__(self, message: str, retriable: bool = False):
        super().__init__(message)
        self.retriable = retriable


# errors that pass on their own: a broker away or just back, a leader or coordinator moving
PASSING = {
    KafkaError._TIMED_OUT,
    KafkaError._TRANSPORT,
    KafkaError._ALL_BROKERS_DOWN,
    KafkaError.REQUEST_TIMED_OUT,
    KafkaError.FENCED_LEADER_EPOCH,
    KafkaError.UNKNOWN_LEADER_EPOCH,
    KafkaError.NOT_LEADER_FOR_PARTITION,
    KafkaError.LEADER_NOT_AVAILABLE,
    KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    KafkaError.NETWORK_EXCEPTION,
}


def retriable(exc: BaseException) -> bool:
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        return exc.args[0].retriable() or exc.args[0].code() in PASSING
    return isinstance(exc, TimeoutError | concurrent.futures.TimeoutError)


class Cluster:
    """Admin and client access to one cluster. The config dict is never logged. `aiven`: the
    Aiven service the cluster is (its ACLs go through Aiven's API), or None."""

    def __init__(
        self, name: str, conf: Mapping[str, Any], *, aiven: AivenService | None = None
    ) -> None:
        self.name = name
        self._conf = ClientConfig(conf)
        self.aiven = aiven

    @functools.cached_property
    def admin(self) -> AdminClient:
        """Made on first use: a client connects (and logs) from the moment it exists."""
        return AdminClient({**self._conf, "log_level": 3})

    def __repr__(self) -> str:
        return f"Cluster({self.name!r}, {self._conf.get('bootstrap.servers')!r})"

    @property
    def client_config(self) -> ClientConfig:
        """A copy of the connection settings (secrets masked when printed)."""
        return ClientConfig(self._conf)

    def unreachable(self, timeout: float = 3.0) -> str | None:
        """Why no bootstrap server accepts a TCP connection, or None when one does: a quick
        answer before the admin client's own, slower, retries."""
        problems = []
        for server in str(self._conf.get("bootstrap.servers", "")).split(","):
            host, _, port = server.strip().rpartition(":")
            host = host.strip("[]") or "localhost"
            try:
                with socket.create_connection((host, int(port)), timeout=timeout):
                    return None
            except (OSError, ValueError) as exc:
                why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
                problems.append(f"{server.strip()} ({why.lower() or 'unreachable'})")
        return "cannot reach " + ", ".join(problems[:3])

    @classmethod
    def from_settings(cls, settings, name: str) -> Cluster:
        return cls(name, settings.kafka_client_config(name), aiven=settings.aiven_service(name))

    def consumer(self, **extra: Any) -> Consumer:
        conf = {
            "group.id": "kafka-migrate-reader",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "log_level": 3,
            **extra,
        }
        return Consumer({**self._conf, **conf})


class NotYet(Exception):
    """What was just created is not visible yet (metadata and ACLs propagate)."""


def eventually(read: Callable[[], T], timeout: float = 10.0) -> T:
    """Read back what was just created until it is visible: `read` raises NotYet (or an
    UNKNOWN_TOPIC_OR_PART error) while it is not; retried with backoff for `timeout` seconds,
    then the last NotYet is raised as a KafkaOpError: a real difference."""
    deadline = time.monotonic() + timeout
    delay = 0.1
    while True:
        try:
            return read()
        except (NotYet, KafkaOpError) as exc:
            if isinstance(exc, KafkaOpError) and "UNKNOWN_TOPIC_OR_PART" not in str(exc):
                raise
            if time.monotonic() > deadline:
                raise KafkaOpError(str(exc)) from None
        time.sleep(delay)
        delay = min(delay * 2, 1.0)


def error_code(exc: BaseException) -> int | None:
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        return exc.args[0].code()
    return None


def error_text(exc: BaseException) -> str:
    if isinstance(exc, KafkaException) and exc.args and isinstance(exc.args[0], KafkaError):
        err = exc.args[0]
        return f"{err.name()}: {err.str()}"
    if isinstance(exc, TimeoutError | concurrent.futures.TimeoutError):
        return "timed out waiting for the cluster's answer"
    return str(exc) or exc.__class__.__name__


def gather(futures: Mapping[Any, Future], what: str, timeout: float = TIMEOUT) -> dict[Any, Any]:
    """Wait for every future of one admin call; raise one error naming all that failed."""
    results, failures, passing = {}, [], True
    for key, future in futures.items():
        try:
            results[key] = future.result(timeout=timeout)
        except Exception as exc:  # noqa: BLE001 - reported together below
            passing = passing and retriable(exc)
            name = f"{key.topic}[{key.partition}]" if isinstance(key, TopicPartition) else key
            failures.append(f"{name}: {error_text(exc)}")
    if failures:
        shown = "; ".join(failures[:5]) + (
            f" (+{len(failures) - 5} more)" if len(failures) > 5 else ""
        )
        raise KafkaOpError(f"{what} failed for {shown}", retriable=passing)
    return results


def settle(futures: Mapping[Any, Future], timeout: float = TIMEOUT) -> dict[Any, Any]:
    """Wait for every future; map each key to its result or to the exception it raised."""
    out = {}
    for key, future in futures.items():
        try:
            out[key] = future.result(timeout=timeout)
        except Exception as exc:  # noqa: BLE001 - the caller decides per key
            out[key] = exc
    return out
