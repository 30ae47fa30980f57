"""A real Kafka + MirrorMaker 2 sandbox on this machine, for tests and rehearsals.

`up` starts, on 127.0.0.1 with free ports: a SOURCE and a TARGET single-node KRaft cluster
(SASL/PLAIN, StandardAuthorizer: `admin` is the super user, `alice` and `bob` are ordinary
users) and a Kafka Connect distributed worker with the MirrorMaker 2 connectors. Everything it
writes (configs, data, logs, the state file with the generated passwords) stays under one
directory; `down` stops exactly the PIDs recorded there.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bot.errors import UserError
from bot.sandbox import jars, jvm, render

DEFAULT_DIR = ".sandbox"
DIR_ENV = "KAFKA_MIGRATE_SANDBOX_DIR"
STATE_FILE = "sandbox.json"
LAST_SANDBOX_FILE = "last-sandbox"
USERS = ("admin", "alice", "bob")
MIRROR_PLUGINS = {
    "org.apache.kafka.connect.mirror.MirrorSourceConnector",
    "org.apache.kafka.connect.mirror.MirrorCheckpointConnector",
    "org.apache.kafka.connect.mirror.MirrorHeartbeatConnector",
}
BROKER_HEAP = os.environ.get("KAFKA_MIGRATE_SANDBOX_BROKER_HEAP", "384m")
CONNECT_HEAP = os.environ.get("KAFKA_MIGRATE_SANDBOX_CONNECT_HEAP", "384m")
READY_TIMEOUT = 120.0


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
    dir: Path
    source: Endpoint
    target: Endpoint
    connect_url: str
    pids: dict[str, int]
    ports: dict[str, int]

    @property
    def config_file(self) -> Path:
        return self.dir / "kafka-migrate.toml"

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
            "connect": {"url": self.connect_url},
            "dir": str(self.dir),
            "config": str(self.config_file),
            "running": self.running(),
        }


def _state_path(directory: Path) -> Path:
    return directory / STATE_FILE


def load(directory: str | os.PathLike[str] = DEFAULT_DIR) -> Sandbox | None:
    path = _state_path(Path(directory).resolve())
    if not path.exists():
        return None
    state = json.loads(path.read_text())
    return Sandbox(
        dir=Path(state["dir"]),
        source=Endpoint(state["source"]["bootstrap_servers"], state["source"]["users"]),
        target=Endpoint(state["target"]["bootstrap_servers"], state["target"]["users"]),
        connect_url=state["connect"]["url"],
        pids=state["pids"],
        ports=state["ports"],
    )


def _save(sandbox: Sandbox) -> None:
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
        "connect": {"url": sandbox.connect_url},
        "pids": sandbox.pids,
        "ports": sandbox.ports,
    }
    _write_private(_state_path(sandbox.dir), json.dumps(state, indent=2))


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def up(directory: str | os.PathLike[str] = DEFAULT_DIR, *, log=print) -> Sandbox:
    """Start the sandbox (or return the one already running in `directory`)."""
    root = Path(directory).resolve()
    existing = load(root)
    if existing is not None:
        if all(existing.running().values()):
            log(f"sandbox already running in {root}")
            return existing
        down(root, log=lambda *_: None)
    lib = jars.fetch(log=log)
    started = time.monotonic()
    if root.exists():
        for child in ("source", "target", "connect", "logs"):
            shutil.rmtree(root / child, ignore_errors=True)
    (root / "logs").mkdir(parents=True, exist_ok=True)
    names = ("source", "source_controller", "target", "target_controller", "connect")
    ports = dict(zip(names, jvm.free_ports(len(names)), strict=True))
    users = {side: {u: secrets.token_urlsafe(18) for u in USERS} for side in ("source", "target")}
    pids: dict[str, int] = {}
    procs = {}
    try:
        with ThreadPoolExecutor(2) as pool:
            list(
                pool.map(
                    lambda side: _format(root, lib, side, ports, users[side]), ("source", "target")
                )
            )
        for side in ("source", "target"):
            procs[side] = _start_broker(root, lib, side)
            pids[side] = procs[side].pid
        endpoints = {
            side: Endpoint(f"127.0.0.1:{ports[side]}", users[side]) for side in ("source", "target")
        }
        for side in ("source", "target"):
            _wait_broker(root, side, endpoints[side], procs[side])
        procs["connect"] = _start_connect(root, lib, ports["connect"], endpoints["target"])
        pids["connect"] = procs["connect"].pid
        connect_url = f"http://127.0.0.1:{ports['connect']}"
        _wait_connect(root, connect_url, procs["connect"])
    except BaseException:
        for pid in reversed(list(pids.values())):
            jvm.stop(pid, str(root))
        raise
    sandbox = Sandbox(root, endpoints["source"], endpoints["target"], connect_url, pids, ports)
    _save(sandbox)
    _write_bot_config(sandbox)
    log(
        f"sandbox up in {time.monotonic() - started:.1f}s: "
        f"source {endpoints['source'].bootstrap_servers}, "
        f"target {endpoints['target'].bootstrap_servers}, connect {connect_url}"
    )
    log(f"bot config: {sandbox.config_file}")
    return sandbox


def _format(root: Path, lib: Path, side: str, ports: dict[str, int], users: dict[str, str]) -> None:
    home = root / side
    (home / "data").mkdir(parents=True, exist_ok=True)
    props = home / "server.properties"
    props.write_text(
        render.broker(
            port=ports[side],
            controller_port=ports[f"{side}_controller"],
            data_dir=home / "data",
            users=users,
        )
    )
    os.chmod(props, 0o600)
    log4j = root / "logs" / f"log4j2-{side}.properties"
    log4j.write_text(render.log4j2(root / "logs" / f"{side}.log"))
    cluster_id = _cluster_id()
    jvm.run_tool(
        jvm.java_command(
            lib,
            log4j,
            "128m",
            "kafka.tools.StorageTool",
            "format",
            "-t",
            cluster_id,
            "-c",
            str(props),
            "--standalone",
        ),
        root / "logs" / f"{side}-format.out",
    )


def _cluster_id() -> str:
    """22 base64url characters of 16 random bytes, not starting with '-' (KRaft's rule)."""
    while True:
        cluster_id = secrets.token_urlsafe(16)
        if not cluster_id.startswith("-"):
            return cluster_id


def _start_broker(root: Path, lib: Path, side: str):
    log4j = root / "logs" / f"log4j2-{side}.properties"
    command = jvm.java_command(
        lib, log4j, BROKER_HEAP, "kafka.Kafka", str(root / side / "server.properties")
    )
    return jvm.spawn(command, root / "logs" / f"{side}.out")


def _wait_broker(root: Path, side: str, endpoint: Endpoint, proc) -> None:
    from confluent_kafka.admin import AdminClient

    port = int(endpoint.bootstrap_servers.rsplit(":", 1)[1])
    alive = lambda: proc.poll() is None  # noqa: E731
    out = root / "logs" / f"{side}.out"
    jvm.wait_until(
        lambda: jvm.port_open(port),
        what=f"{side} broker port",
        timeout=READY_TIMEOUT,
        alive=alive,
        log=out,
    )
    admin = AdminClient({**endpoint.client_config(), "log_level": 0})

    def answers() -> bool:
        return admin.describe_cluster(request_timeout=5).result(timeout=6).controller is not None

    jvm.wait_until(
        answers, what=f"{side} broker metadata", timeout=READY_TIMEOUT, alive=alive, log=out
    )


def _start_connect(root: Path, lib: Path, port: int, target: Endpoint):
    home = root / "connect"
    home.mkdir(parents=True, exist_ok=True)
    props = home / "worker.properties"
    props.write_text(
        render.connect_worker(
            bootstrap=target.bootstrap_servers, rest_port=port, admin_password=target.users["admin"]
        )
    )
    os.chmod(props, 0o600)
    log4j = root / "logs" / "log4j2-connect.properties"
    log4j.write_text(render.log4j2(root / "logs" / "connect.log"))
    command = jvm.java_command(
        lib, log4j, CONNECT_HEAP, "org.apache.kafka.connect.cli.ConnectDistributed", str(props)
    )
    return jvm.spawn(command, root / "logs" / "connect.out")


def _wait_connect(root: Path, url: str, proc) -> None:
    def ready() -> bool:
        with httpx.Client(base_url=url, timeout=5) as client:
            if client.get("/health").status_code != 200:
                return False
            plugins = {p["class"] for p in client.get("/connector-plugins").json()}
            return plugins >= MIRROR_PLUGINS

    jvm.wait_until(
        ready,
        what="Kafka Connect (MirrorMaker 2 plugins)",
        timeout=READY_TIMEOUT,
        alive=lambda: proc.poll() is None,
        log=root / "logs" / "connect.out",
    )


def stop_connect(sandbox: Sandbox) -> None:
    """Stop the Connect worker (a fault rehearsal); its connectors live on in the target's
    config topic and come back with `start_connect`."""
    jvm.stop(sandbox.pids["connect"], str(sandbox.dir))
    deadline = time.monotonic() + 30
    while jvm.port_open(sandbox.ports["connect"]) and time.monotonic() < deadline:
        time.sleep(0.1)


def start_connect(sandbox: Sandbox) -> None:
    """Start the Connect worker again on its port, with its config; wait until it is ready."""
    lib = jars.fetch(log=lambda *_: None)
    proc = _start_connect(sandbox.dir, lib, sandbox.ports["connect"], sandbox.target)
    sandbox.pids["connect"] = proc.pid
    _save(sandbox)
    _wait_connect(sandbox.dir, sandbox.connect_url, proc)


def _write_bot_config(sandbox: Sandbox) -> None:
    """A kafka-migrate.toml the bot can use as is; passwords go to sandbox.env (mode 600)."""
    env = {
        "SANDBOX_SOURCE_PASSWORD": sandbox.source.users["admin"],
        "SANDBOX_TARGET_PASSWORD": sandbox.target.users["admin"],
    }
    _write_private(sandbox.dir / "sandbox.env", "".join(f"{k}={v}\n" for k, v in env.items()))
    clusters = ""
    for name, endpoint, env_name in (
        ("sandbox-source", sandbox.source, "SANDBOX_SOURCE_PASSWORD"),
        ("sandbox-target", sandbox.target, "SANDBOX_TARGET_PASSWORD"),
    ):
        clusters += (
            f'\n[clusters.{name}]\nbootstrap_servers = "{endpoint.bootstrap_servers}"\n'
            f'security_protocol = "{endpoint.security_protocol}"\n'
            f'sasl_mechanism = "{endpoint.sasl_mechanism}"\nsasl_username = "admin"\n'
            f'sasl_password_env = "{env_name}"\n'
        )
    sandbox.config_file.write_text(
        "# Written by `kafka-migrate sandbox up`: the local sandbox's clusters and MM2 worker.\n"
        "# Passwords are not in this file: they are read from sandbox.env beside it.\n"
        'env_file = "sandbox.env"\n'
        + clusters
        + f'\n[replicators.sandbox-mm2]\nkind = "connect"\nurl = "{sandbox.connect_url}"\n'
        + "\n[timing]\npoll_interval_seconds = 2\nquiet_window_seconds = 10\n"
        + "drain_window_seconds = 5\n"
    )


def status(directory: str | os.PathLike[str] = DEFAULT_DIR) -> Sandbox:
    sandbox = load(directory)
    if sandbox is None:
        raise UserError(
            f"no sandbox in {Path(directory).resolve()} (start one: kafka-migrate sandbox up)"
        )
    return sandbox


def down(directory: str | os.PathLike[str] = DEFAULT_DIR, *, log=print) -> None:
    """Stop exactly the processes `up` started (Connect first), and wait for their ports."""
    sandbox = load(directory)
    if sandbox is None:
        log(f"no sandbox in {Path(directory).resolve()}")
        return
    for name in ("connect", "target", "source"):
        pid = sandbox.pids.get(name)
        if pid:
            jvm.stop(pid, str(sandbox.dir))
    deadline = time.monotonic() + 30
    while any(jvm.port_open(p) for p in sandbox.ports.values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    _state_path(sandbox.dir).unlink(missing_ok=True)
    log(f"sandbox in {sandbox.dir} stopped")


def last_sandbox_file() -> Path:
    """Where `sandbox up` records the directory of the sandbox it started (the jars' cache)."""
    return jars.cache_dir() / LAST_SANDBOX_FILE


def remember(directory: str | os.PathLike[str]) -> None:
    """Record `directory` as the last sandbox started, for `status` and `down` without --dir."""
    path = last_sandbox_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{LAST_SANDBOX_FILE}.{os.getpid()}")
    tmp.write_text(f"{Path(directory).resolve()}\n")
    tmp.replace(path)


def last_started() -> Path | None:
    """The last sandbox `up` started, if its state file is still there (not stopped since)."""
    try:
        recorded = last_sandbox_file().read_text().strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    if recorded and _state_path(Path(recorded)).exists():
        return Path(recorded)
    return None


def forget(directory: str | os.PathLike[str]) -> None:
    """Clear the record if it names `directory` (stopping another sandbox leaves it)."""
    path = last_sandbox_file()
    try:
        recorded = path.read_text().strip()
    except (FileNotFoundError, NotADirectoryError):
        return
    if recorded == str(Path(directory).resolve()):
        path.unlink(missing_ok=True)


def default_dir(action: str) -> Path | str:
    """The directory when no --dir is given: $KAFKA_MIGRATE_SANDBOX_DIR, else (not for `up`)
    the last sandbox `up` started while it still runs, else `.sandbox`."""
    if os.environ.get(DIR_ENV):
        return os.environ[DIR_ENV]
    if action != "up":
        recorded = last_started()
        if recorded is not None:
            return recorded
    return DEFAULT_DIR
