"""One Kafka Connect cluster's REST API (httpx), named as the configuration names it.

Every failure is a `ConnectError` naming the cluster, the call and what the worker said; it is
`retriable` when the worker is away, restarting or rebalancing (409, 5xx, no answer), so a step
holds degraded instead of failing. 401/403 name the cluster and the user, never the password.
Connector names are percent-encoded (a space or a slash in a name is fine). What a worker
answers about configs holds secrets in clear: callers mask before showing or storing.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from bot.reasons import reason, transient

REBALANCE_WAIT = 20.0  # seconds one call keeps retrying while the Connect group rebalances
Offsets = list[dict[str, Any]]  # [{"partition": {...}, "offset": {...}}]


class ConnectError(RuntimeError):
    def __init__(self, message: str, *, status: int | None = None, retriable: bool = False):
        super().__init__(message)
        self.status, self.retriable = status, retriable


@dataclass(frozen=True)
class Plugin:
    cls: str
    type: str  # source | sink
    version: str


@dataclass(frozen=True)
class ConnectorState:
    """A connector's status: its state and its tasks' (id, state, trace)."""

    name: str
    state: str  # RUNNING, PAUSED, STOPPED, FAILED, UNASSIGNED, RESTARTING; MISSING if unknown
    tasks: tuple[tuple[int, str, str | None], ...] = ()
    trace: str | None = None
    type: str | None = None

    @property
    def running(self) -> bool:
        """RUNNING with at least one task, every task RUNNING."""
        return (
            self.state == "RUNNING"
            and bool(self.tasks)
            and all(state == "RUNNING" for _i, state, _t in self.tasks)
        )

    @property
    def stopped(self) -> bool:
        """STOPPED and no task left (the status says STOPPED a moment before its tasks go)."""
        return self.state == "STOPPED" and not self.tasks

    @property
    def failures(self) -> list[str]:
        out = [f"{self.name}: {trace_summary(self.trace)}"] if self.state == "FAILED" else []
        out += [
            f"{self.name} task {i}: {trace_summary(trace)}"
            for i, state, trace in self.tasks
            if state == "FAILED"
        ]
        return out


def trace_summary(trace: str | None) -> str:
    """The worker's error in a line or two: the first line of the trace and its root cause."""
    lines = [line.strip() for line in (trace or "").splitlines() if line.strip()]
    if not lines:
        return "failed (the worker gave no trace)"
    causes = [line for line in lines if line.startswith("Caused by:")]
    return (lines[0] + (f" ({causes[-1]})" if causes else ""))[:400]


def version_tuple(version: str) -> tuple[int, ...]:
    """'3.7.1', '7.6.0-ccs', '4.3.1' -> (3, 7, 1); the numeric prefix of each part."""
    parts = []
    for part in version.split("-")[0].split("."):
        digits = "".join(ch for ch in part if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


@dataclass
class ConnectRest:
    name: str  # the cluster's name in the configuration (every message names it)
    url: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    verify: str | bool = True
    cert: tuple[str, str] | str | None = None
    timeout: float = 15.0
    rebalance_wait: float = REBALANCE_WAIT

    @classmethod
    def from_settings(cls, settings, name: str) -> ConnectRest:
        conf = settings.connect_cluster(name)
        password = settings.password(conf.password_env, f"connect_clusters.{name}.password_env")
        cert = None
        if conf.ssl_cert_file:
            cert = (
                (conf.ssl_cert_file, conf.ssl_key_file) if conf.ssl_key_file else conf.ssl_cert_file
            )
        return cls(name, str(conf.url), conf.username, password, conf.ssl_ca_file or True, cert)

    def __repr__(self) -> str:  # never the password
        return f"ConnectRest({self.name!r}, {self.url!r})"

    @property
    def label(self) -> str:
        """How messages name it: by its configured name, else by its URL."""
        return f"Kafka Connect {self.name}" if self.name else f"Kafka Connect at {self.url}"

    def __post_init__(self):
        auth = httpx.BasicAuth(self.username, self.password or "") if self.username else None
        self.http = httpx.Client(
            base_url=self.url.rstrip("/"),
            auth=auth,
            verify=self.verify,
            cert=self.cert,
            timeout=self.timeout,
        )

    def close(self) -> None:
        self.http.close()

    # -- the calls ---------------------------------------------------------------------------

    def info(self) -> dict[str, Any]:
        """{"version", "commit", "kafka_cluster_id"} of the worker answering."""
        return self._json("GET", "/")

    def plugins(self) -> dict[str, Plugin]:
        return {
            p["class"]: Plugin(p["class"], p.get("type", ""), p.get("version", ""))
            for p in self._json("GET", "/connector-plugins")
        }

    def connectors(self) -> dict[str, dict[str, Any]]:
        """name -> {"config": {...}, "type": source|sink, "state": ConnectorState}."""
        body = self._json("GET", "/connectors", params=[("expand", "info"), ("expand", "status")])
        out = {}
        for name, entry in body.items():
            info = entry.get("info") or {}
            out[name] = {
                "config": dict(info.get("config") or {}),
                "type": info.get("type") or (entry.get("status") or {}).get("type"),
                "state": _state(name, entry.get("status")),
            }
        return out

    def worker_ids(self) -> set[str]:
        """The workers (`host:port`) that run a connector or a task of this cluster now."""
        body = self._json("GET", "/connectors", params={"expand": "status"})
        return {
            unit["worker_id"]
            for entry in body.values()
            for unit in [
                (entry.get("status") or {}).get("connector") or {},
                *((entry.get("status") or {}).get("tasks") or []),
            ]
            if unit.get("worker_id")
        }

    def status(self, name: str) -> ConnectorState:
        response = self._call("GET", f"/connectors/{_q(name)}/status", missing_ok=True)
        if response.status_code == 404:
            return ConnectorState(name, "MISSING")
        return _state(name, response.json())

    def config(self, name: str) -> dict[str, str] | None:
        response = self._call("GET", f"/connectors/{_q(name)}/config", missing_ok=True)
        return None if response.status_code == 404 else dict(response.json())

    def active_topics(self, name: str) -> list[str]:
        """The topics the connector has used (KIP-558), [] when the worker does not track them."""
        response = self._call("GET", f"/connectors/{_q(name)}/topics", missing_ok=True)
        if response.status_code == 404:
            return []
        return list((response.json().get(name) or {}).get("topics") or [])

    def offsets(self, name: str) -> Offsets:
        return list(self._json("GET", f"/connectors/{_q(name)}/offsets").get("offsets") or [])

    def stop(self, name: str) -> None:
        self._call("PUT", f"/connectors/{_q(name)}/stop")

    def pause(self, name: str) -> None:
        self._call("PUT", f"/connectors/{_q(name)}/pause", missing_ok=True)

    def resume(self, name: str) -> None:
        self._call("PUT", f"/connectors/{_q(name)}/resume", missing_ok=True)

    def restart_failed(self, name: str) -> None:
        """Restart the connector and its tasks that FAILED (the others keep running)."""
        self._call(
            "POST",
            f"/connectors/{_q(name)}/restart",
            params={"includeTasks": "true", "onlyFailed": "true"},
            missing_ok=True,
        )

    def put_config(self, name: str, config: dict[str, str]) -> None:
        """Create the connector, or change its config (it restarts with it)."""
        self._call("PUT", f"/connectors/{_q(name)}/config", json=config)

    def create(self, name: str, config: dict[str, str], initial_state: str = "STOPPED") -> bool:
        """Create the connector (False: one of that name exists already)."""
        body = {"name": name, "config": config, "initial_state": initial_state}
        return self._call("POST", "/connectors", json=body, exists_ok=True).status_code != 409

    def alter_offsets(self, name: str, offsets: Offsets) -> None:
        self._call("PATCH", f"/connectors/{_q(name)}/offsets", json={"offsets": offsets})

    def delete(self, name: str) -> None:
        self._call("DELETE", f"/connectors/{_q(name)}", missing_ok=True)

    # -- plumbing ----------------------------------------------------------------------------

    def _json(self, method: str, path: str, **kwargs) -> Any:
        response = self._call(method, path, **kwargs)
        try:
            return response.json()
        except ValueError:
            raise ConnectError(
                f"{self.label}: {method} {path}: not a JSON answer", retriable=True
            ) from None

    def _call(
        self, method: str, path: str, *, missing_ok=False, exists_ok=False, **kwargs
    ) -> httpx.Response:
        """One call; retried a while when the group rebalances (409 on anything but a create)."""
        deadline = time.monotonic() + self.rebalance_wait
        delay = 0.2
        while True:
            try:
                response = self.http.request(method, path, **kwargs)
            except httpx.HTTPError as exc:
                raise ConnectError(
                    f"{self.label}: {method} {path}: {reason(exc)}",
                    retriable=transient(exc),
                ) from None
            status = response.status_code
            if status < 400 or (status == 404 and missing_ok) or (status == 409 and exists_ok):
                return response
            message = _message(response)
            if status in (401, 403):
                who = f"user {self.username!r}" if self.username else "no credentials"
                raise ConnectError(
                    f"{self.label} ({self.url}) refused {who} with HTTP {status} on {method} "
                    f"{path}: check "
                    + (f"connect_clusters.{self.name}." if self.name else "its ")
                    + "username and password_env",
                    status=status,
                )
            rebalancing = status == 409 or "rebalanc" in message.lower()
            if rebalancing and time.monotonic() < deadline:
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
                continue
            raise ConnectError(
                f"{self.label}: {method} {path}: HTTP {status} {message}"
                + (" (the Connect group is rebalancing)" if rebalancing else ""),
                status=status,
                retriable=rebalancing or status >= 500,
            )


def _q(name: str) -> str:
    return quote(name, safe="")


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message", ""))[:300]
    except (ValueError, AttributeError):
        return response.text[:200]


def _state(name: str, status: dict[str, Any] | None) -> ConnectorState:
    if not status:
        return ConnectorState(name, "MISSING")
    connector = status.get("connector") or {}
    tasks = tuple(
        (int(t.get("id", 0)), str(t.get("state")), t.get("trace")) for t in status.get("tasks", [])
    )
    return ConnectorState(
        name, str(connector.get("state")), tasks, connector.get("trace"), status.get("type")
    )
