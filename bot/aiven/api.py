"""The Aiven API through aiven-client: each failure turned into a message a person understands.

401 names the token's environment variable (never the token), 403 and 404 say which project or
service, 409 is `Conflict` (the caller reuses what exists), 5xx and dropped connections are
retried with backoff for idempotent calls (GET, PUT, DELETE) and then raised as a retriable
ReplicatorError, so the engine holds the step "degraded" instead of failing it. Writes to one
MM2 service are serialized (`service_lock`): concurrent flow writes raced on Aiven's side.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import requests
from aiven.client.client import AivenClient, Error, ResponseError, RetrySpec

from bot.errors import ReplicatorError

log = logging.getLogger(__name__)

ATTEMPTS = 4  # for idempotent calls: the first try and three retries
BACKOFF = (0.5, 1.0, 2.0)  # seconds before each retry
TIMEOUT = 30  # seconds per request

_locks: dict[tuple[str, str, str], threading.Lock] = {}
_locks_guard = threading.Lock()
_clients: dict[tuple[str, str], AivenApi] = {}


class Conflict(ReplicatorError):
    """409: what was being created exists already."""


class NotFound(ReplicatorError):
    """404: the project, service, flow or integration does not exist."""


def aiven_api(url: str, token_env: str, token: Callable[[], str]) -> AivenApi:
    """The client for this API and token variable (one each: aiven-client adds a log handler
    per instance)."""
    with _locks_guard:
        api = _clients.get((url, token_env))
        if api is None:
            api = _clients[(url, token_env)] = AivenApi(url, token_env, token)
        api._token = token
        return api


def service_lock(api_url: str, project: str, service: str) -> threading.Lock:
    """One lock per MM2 service: its writes (flows, integrations, user_config) never overlap."""
    with _locks_guard:
        return _locks.setdefault((api_url, project, service), threading.Lock())


class AivenApi:
    """aiven-client with the bot's error handling. The token is read from its variable on each
    call (a rotated token is picked up) and is never put in a message or a log line."""

    def __init__(self, url: str, token_env: str, token: Callable[[], str]):
        self.url = url
        self.token_env = token_env
        self._token = token
        self.client = AivenClient(
            url, show_http=False, request_timeout=TIMEOUT, default_retry_spec=RetrySpec(attempts=1)
        )
        self.sleep = time.sleep

    def __repr__(self) -> str:
        return f"AivenApi({self.url!r}, token from ${self.token_env})"

    def call(self, what: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """`self.client.<method>(*args)`; `what` says what is done, to which project/service
        ("get service acme/kafka-target"), for the error message."""
        idempotent = not method.startswith(("create_", "service_kafka_native_acl_add"))
        attempts = ATTEMPTS if idempotent else 1
        for attempt in range(attempts):
            try:
                token = self._token()
            except KeyError:
                raise ReplicatorError(
                    f"Aiven API: environment variable {self.token_env} (the API token) is not set"
                ) from None
            self.client.set_auth_token(token)
            try:
                return getattr(self.client, method)(*args, **kwargs)
            except Error as exc:
                error = self._http_error(what, exc, token)
                if not (error.retriable and attempt + 1 < attempts):
                    raise error from None
                log.warning("Aiven API: %s: %s; retrying", what, error)
            except ResponseError:  # a 2xx whose body carries "error"
                raise ReplicatorError(
                    f"Aiven API at {self.url}: {what}: the answer reports an error"
                ) from None
            except (requests.RequestException, ValueError) as exc:
                # dropped or refused connections, timeouts, a body cut short or not JSON
                error = ReplicatorError(
                    f"Aiven API at {self.url}: {what}: {_transport(exc)}"
                    + (f" (after {attempts} attempts)" if attempts > 1 else "")
                    + ("" if idempotent else "; whether it was done is checked on the next try"),
                    retriable=True,
                )
                if attempt + 1 >= attempts:
                    raise error from None
                log.warning("Aiven API: %s: %s; retrying", what, _transport(exc))
            self.sleep(BACKOFF[min(attempt, len(BACKOFF) - 1)])
        raise AssertionError("unreachable")  # pragma: no cover

    def _http_error(self, what: str, exc: Error, token: str) -> ReplicatorError:
        status = exc.status
        message = _message(exc).replace(token, "***") if token else _message(exc)
        where = f"Aiven API at {self.url}: {what}"
        if status == 401:
            return ReplicatorError(
                f"Aiven API at {self.url} rejected the token in {self.token_env} (401): "
                "check that the variable holds a valid, unexpired token"
            )
        if status == 403:
            return ReplicatorError(
                f"{where}: the token in {self.token_env} is not allowed to do this (403: "
                f"{message}); it needs a role with write access to the project"
            )
        if status == 404:
            return NotFound(f"{where}: not found (404: {message})")
        if status == 409:
            return Conflict(f"{where}: exists already (409: {message})")
        if status == 429 or status >= 500:
            return ReplicatorError(
                f"{where}: Aiven answered {status} ({message}); it may pass", retriable=True
            )
        return ReplicatorError(f"{where}: refused ({status}: {message})")


def _message(exc: Error) -> str:
    try:
        text = str(exc)
    except Exception:  # noqa: BLE001 - a body that is not text
        text = ""
    text = text.rsplit(" (status ", 1)[0].strip()
    return (text.splitlines()[0] if text else "no message")[:300]


def _transport(exc: Exception) -> str:
    if isinstance(exc, requests.Timeout):
        return "no answer in time"
    if isinstance(exc, requests.ConnectionError):
        return "cannot reach it (connection refused, dropped or unreachable)"
    if isinstance(exc, ValueError):
        return "the answer is not JSON (a proxy or an outage page?)"
    return f"the request failed ({exc.__class__.__name__})"
