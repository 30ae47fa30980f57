"""What a running sandbox is (its clusters, Connect workers, PIDs and ports) and its state file."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.sandbox import jvm

STATE_FILE = "sandbox.json"
# the sandbox's own Connect workers -> the cluster each one is attached to (its own cluster)
WORKER_CLUSTERS = {"connect": "target", "connect_source": "source"}
# the sandbox's workers whose REST API asks for HTTP basic auth, as real Connect clusters often do
BASIC_AUTH_WORKERS = frozenset({"connect_source"})
CONNECT_USER = "connect-admin"  # the basic-auth user of every worker that asks for one
CONNECT = "connect"  # the Connect cluster on the target (MM2): named by its first worker


def connect_names(workers: int) -> list[str]:
    """The process names of the `connect` cluster's workers: `connect`, then `connect_2` ..."""
    return [CONNECT, *(f"{CONNECT}_{i}" for i in range(2, workers + 1))]


@dataclass(frozen=True)
class Endpoint:
    """How a script reaches one sandbox cluster; credentials are the admin super user's."""

    bootstrap_servers: str
    users: dict[str, str]
    security_protocol: str = "SASL_PLAINTEXT"
    sasl_mechanism: str = "PLAIN"

    def client_config(self, user: str = "admin") -> dict[str, str]:
        return {
            "bootstrap.servers": self.bootstrap_servers,
            "security.protocol": self.security_protocol,
            "sasl.mechanism": self.sasl_mechanism,
            "sasl.username": user,
            "sasl.password": self.users[user],
        }

    def as_status(self) -> dict[str, Any]:
        return {
            "bootstrap_servers": self.bootstrap_servers,
            "security_protocol": self.security_protocol,
            "sasl_mechanism": self.sasl_mechanism,
            "sasl_username": "admin",
            "sasl_password": self.users["admin"],
            "users": dict(self.users),
        }


@dataclass(frozen=True)
class Sandbox:
    """`connect_url`: the first worker of the Connect cluster attached to the TARGET (it runs
    MirrorMaker 2, and is where connectors move to); `connect_workers` of them form that one
    Connect cluster (`connect_names`: one group, one set of internal topics, a REST port each;
    `connect_urls`), with `exactly_once` the workers' exactly-once source support enabled.
    `connect_source_url`: the worker attached to the SOURCE (the Connect cluster connectors move
    from). `pids`/`ports` are keyed by process name (brokers `source`, `target`; workers
    `connect`, `connect_2`..., `connect_source`, and any extra worker while it runs).
    `connect_passwords`: the basic-auth password (user `CONNECT_USER`) of each worker whose REST
    API asks for one, by worker name."""

    dir: Path
    source: Endpoint
    target: Endpoint
    connect_url: str
    connect_source_url: str
    pids: dict[str, int]
    ports: dict[str, int]
    connect_passwords: dict[str, str] = field(default_factory=dict, repr=False)
    connect_workers: int = 1
    exactly_once: bool = False

    @property
    def connect_names(self) -> list[str]:
        return connect_names(self.connect_workers)

    @property
    def connect_urls(self) -> list[str]:
        """Each worker's REST URL, the first one's (`connect_url`) first; any of them serves the
        cluster's API (a worker forwards what needs the leader to it)."""
        return [f"http://127.0.0.1:{self.ports[name]}" for name in self.connect_names]

    @property
    def config_file(self) -> Path:
        return self.dir / "kafka-migrate.toml"

    def endpoint(self, cluster: str) -> Endpoint:
        if cluster not in ("source", "target"):
            raise ValueError(f"no sandbox cluster {cluster!r} (source or target)")
        return self.source if cluster == "source" else self.target

    def connect_auth(self, worker: str) -> tuple[str, str] | None:
        """(user, password) for the worker's REST API (httpx takes it as `auth=`), or None when
        the worker asks for no credentials."""
        password = self.connect_passwords.get(worker)
        return (CONNECT_USER, password) if password else None

    def running(self) -> dict[str, bool]:
        return {
            name: jvm.owns(pid, str(self.dir)) and jvm.pid_alive(pid)
            for name, pid in self.pids.items()
        }

    def rss_mib(self) -> dict[str, float | None]:
        return {name: jvm.rss_mib(pid) for name, pid in self.pids.items()}

    def status(self) -> dict[str, Any]:
        return {
            "source": self.source.as_status(),
            "target": self.target.as_status(),
            "connect": {
                "url": self.connect_url,
                "cluster": WORKER_CLUSTERS["connect"],
                "workers": self.connect_urls,
                "exactly_once": self.exactly_once,
                **self._auth_status("connect"),
            },
            "connect_source": {
                "url": self.connect_source_url,
                "cluster": WORKER_CLUSTERS["connect_source"],
                **self._auth_status("connect_source"),
            },
            "dir": str(self.dir),
            "config": str(self.config_file),
            "running": self.running(),
        }

    def _auth_status(self, worker: str) -> dict[str, str]:
        """Printed like the brokers' passwords: `status --json` is what scripts read them from."""
        auth = self.connect_auth(worker)
        return {"username": auth[0], "password": auth[1]} if auth else {}


def state_path(directory: Path) -> Path:
    return directory / STATE_FILE


def load(directory: str | os.PathLike[str]) -> Sandbox | None:
    path = state_path(Path(directory).resolve())
    if not path.exists():
        return None
    state = json.loads(path.read_text())
    return Sandbox(
        dir=Path(state["dir"]),
        source=Endpoint(state["source"]["bootstrap_servers"], state["source"]["users"]),
        target=Endpoint(state["target"]["bootstrap_servers"], state["target"]["users"]),
        connect_url=state["connect"]["url"],
        # a sandbox started before it had a source-side worker has none (`up` restarts it)
        connect_source_url=state.get("connect_source", {}).get("url", ""),
        pids=state["pids"],
        ports=state["ports"],
        connect_passwords=dict(state.get("connect_passwords", {})),
        connect_workers=int(state["connect"].get("workers", 1)),
        exactly_once=bool(state["connect"].get("exactly_once", False)),
    )


def save(sandbox: Sandbox) -> None:
    state = {
        "dir": str(sandbox.dir),
        "source": {
            "bootstrap_servers": sandbox.source.bootstrap_servers,
            "users": sandbox.source.users,
        },
        "target": {
            "bootstrap_servers": sandbox.target.bootstrap_servers,
            "users": sandbox.target.users,
        },
        "connect": {
            "url": sandbox.connect_url,
            "workers": sandbox.connect_workers,
            "exactly_once": sandbox.exactly_once,
        },
        "connect_source": {"url": sandbox.connect_source_url},
        "pids": sandbox.pids,
        "ports": sandbox.ports,
        "connect_passwords": sandbox.connect_passwords,
    }
    write_private(state_path(sandbox.dir), json.dumps(state, indent=2))


def write_private(path: Path, text: str) -> None:
    """Write `text` to a file only its owner reads (mode 600, also when it was there before)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
