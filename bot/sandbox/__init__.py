"""A real Kafka + MirrorMaker 2 sandbox on this machine, for tests and rehearsals.

`up` starts, on 127.0.0.1 with free ports: a SOURCE and a TARGET single-node KRaft cluster
(SASL/PLAIN, StandardAuthorizer: `admin` is the super user, `alice` and `bob` are ordinary
users) and two Kafka Connect clusters of distributed workers (`workers.py`): `connect`,
attached to the target, runs the MirrorMaker 2 connectors and is where a migration moves
connectors to (one worker, or with `connect_workers` N workers of one group, started
together; `exactly_once` enables exactly-once source support on them); `connect_source`,
attached to the source, is the Connect cluster of the old estate that connectors move from,
and asks for HTTP basic auth. Both have the FileStream connectors (a plugin directory, as a
real Connect cluster has its plugins installed). Everything it writes (configs, data, logs,
the state file with the generated passwords) stays under one directory; `down` stops exactly
the PIDs recorded there.
"""

from __future__ import annotations

import os
import secrets
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bot.errors import UserError
from bot.sandbox import jars, jvm, render
from bot.sandbox.state import (
    BASIC_AUTH_WORKERS,
    CONNECT,
    CONNECT_USER,
    WORKER_CLUSTERS,
    Endpoint,
    Sandbox,
    connect_names,
    save,
    state_path,
    write_private,
)
from bot.sandbox.state import load as load_state
from bot.sandbox.workers import (
    FILE_PLUGINS,
    MIRROR_PLUGINS,
    Worker,
    WorkerSpec,
    kill_worker,
    own_specs,
    remove_worker,
    spawn_workers,
    start_worker,
    start_workers,
    stop_worker,
    wait_workers,
    worker_url,
)

__all__ = [
    "CONNECT_USER",
    "FILE_PLUGINS",
    "MIRROR_PLUGINS",
    "Endpoint",
    "Sandbox",
    "Worker",
    "down",
    "kill_connect",
    "load",
    "remove_worker",
    "save",
    "start_connect",
    "start_worker",
    "status",
    "stop_connect",
    "stop_worker",
    "up",
]

DEFAULT_DIR = ".sandbox"
DIR_ENV = "KAFKA_MIGRATE_SANDBOX_DIR"
LAST_SANDBOX_FILE = "last-sandbox"
USERS = ("admin", "alice", "bob")
BROKER_HEAP = os.environ.get("KAFKA_MIGRATE_SANDBOX_BROKER_HEAP", "384m")
READY_TIMEOUT = 120.0
BROKERS = ("source", "target")


def load(directory: str | os.PathLike[str] = DEFAULT_DIR) -> Sandbox | None:
    """The sandbox recorded in `directory` (running or not), or None."""
    return load_state(directory)


def up(
    directory: str | os.PathLike[str] = DEFAULT_DIR,
    *,
    connect_workers: int = 1,
    exactly_once: bool = False,
    log=print,
) -> Sandbox:
    """Start the sandbox (or return the one already running in `directory` as asked for).

    `connect_workers`: the workers of the `connect` Connect cluster (MM2's, on the target):
    one group and one set of internal topics, a REST port each, started at the same time; the
    bot config names the first (a worker forwards what needs the group's leader). With
    `exactly_once`, their exactly-once source support is enabled (KIP-618): MM2 then writes
    each batch in a transaction with its source offsets, so a worker killed mid-copy leaves an
    aborted transaction (invisible to read_committed readers), not records copied twice. Off by
    default: the transaction markers it writes between the copies are offsets the source does
    not have, so the exact handover of a group that stopped part-way (target end minus what it
    has left) finds another record there and falls back to MM2's translation."""
    if connect_workers < 1:
        raise UserError(f"--connect-workers {connect_workers}: at least 1")
    root = Path(directory).resolve()
    existing = load(root)
    if existing is not None:
        same = (existing.connect_workers, existing.exactly_once) == (connect_workers, exactly_once)
        if same and current(existing) and all(existing.running().values()):
            log(f"sandbox already running in {root}")
            return existing
        down(root, log=lambda *_: None)
    lib = jars.fetch(log=log)
    started = time.monotonic()
    own = [*connect_names(connect_workers), *(w for w in WORKER_CLUSTERS if w != CONNECT)]
    if root.exists():
        for child in ("source", "target", *own, "logs"):
            shutil.rmtree(root / child, ignore_errors=True)
    (root / "logs").mkdir(parents=True, exist_ok=True)
    names = ("source", "source_controller", "target", "target_controller", *own)
    ports = dict(zip(names, jvm.free_ports(len(names)), strict=True))
    users = {side: {u: secrets.token_urlsafe(18) for u in USERS} for side in BROKERS}
    endpoints = {side: Endpoint(f"127.0.0.1:{ports[side]}", users[side]) for side in BROKERS}
    pids: dict[str, int] = {}
    sandbox = Sandbox(
        root,
        endpoints["source"],
        endpoints["target"],
        connect_url=worker_url(ports["connect"]),
        connect_source_url=worker_url(ports["connect_source"]),
        pids=pids,
        ports=ports,
        connect_passwords={name: secrets.token_urlsafe(18) for name in BASIC_AUTH_WORKERS},
        connect_workers=connect_workers,
        exactly_once=exactly_once,
    )
    try:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda side: _format(root, lib, side, ports, users[side]), BROKERS))
        procs = {side: _start_broker(root, lib, side) for side in BROKERS}
        pids.update({side: proc.pid for side, proc in procs.items()})
        # the workers' JVMs start meanwhile (on 2 cores this saves seconds): their clients
        # retry until their clusters answer
        workers = spawn_workers(sandbox, own_specs(sandbox).values())
        for side in BROKERS:
            _wait_broker(root, side, endpoints[side], procs[side])
        wait_workers(sandbox, workers, respawn_exited=True)
    except BaseException:
        for pid in reversed(list(pids.values())):
            jvm.stop(pid, str(root))
        state_path(root).unlink(missing_ok=True)
        raise
    save(sandbox)
    _write_bot_config(sandbox)
    log(
        f"sandbox up in {time.monotonic() - started:.1f}s: "
        f"source {endpoints['source'].bootstrap_servers}, "
        f"target {endpoints['target'].bootstrap_servers}, "
        f"connect {', '.join(sandbox.connect_urls)} (target"
        + (", exactly-once" if exactly_once else "")
        + "), "
        f"connect_source {sandbox.connect_source_url} (source)"
    )
    log(f"bot config: {sandbox.config_file}")
    return sandbox


def current(sandbox: Sandbox) -> bool:
    """The sandbox runs every worker of this version, those asking for basic auth with a
    password recorded (one started by an older version is restarted)."""
    return set(own_specs(sandbox)) <= set(sandbox.pids) and all(
        sandbox.connect_auth(name) for name in BASIC_AUTH_WORKERS
    )


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


def stop_connect(sandbox: Sandbox, name: str = "connect") -> None:
    """Stop one of the sandbox's Connect workers (a fault rehearsal): `connect` (on the target,
    MM2), `connect_2`... (the other workers of its cluster) or `connect_source` (on the
    source). It leaves its group: a worker left in the cluster takes its connectors and tasks
    over; with none left they live on in the cluster's config topic and come back with
    `start_connect`."""
    _own_worker(sandbox, name)
    stop_worker(sandbox, name)


def kill_connect(sandbox: Sandbox, name: str) -> None:
    """SIGKILL one of the sandbox's Connect workers (a crash): its group notices when its
    session times out (10 s) and gives its connectors and tasks to the workers left; its
    last uncommitted copies are read again by them (at-least-once) unless the cluster is
    exactly-once. `start_connect` starts it again."""
    _own_worker(sandbox, name)
    kill_worker(sandbox, name)


def start_connect(sandbox: Sandbox, name: str = "connect") -> None:
    """Start that Connect worker again on its port, with its config (and its password); wait
    until it is ready."""
    start_workers(sandbox, [_own_worker(sandbox, name)])


def _own_worker(sandbox: Sandbox, name: str) -> WorkerSpec:
    own = own_specs(sandbox)
    if name not in own:
        raise ValueError(f"no sandbox worker {name!r} ({', '.join(own)})")
    return own[name]


def connect_password_env(worker: str) -> str:
    """The variable of sandbox.env holding the worker's basic-auth password."""
    return f"SANDBOX_{worker.upper()}_PASSWORD"


def _back_replicator(sandbox: Sandbox) -> str:
    """The reverse flow's replicator: MM2 on the worker attached to the source (a
    MirrorSourceConnector writes into its worker's own cluster), aliases the other way; its
    workers write as the source's admin user."""
    text = (
        '\n[replicators.sandbox-mm2-back]\nkind = "connect"\n'
        f'url = "{sandbox.connect_source_url}"\n'
        'source_alias = "target"\ntarget_alias = "source"\nprincipal = "User:admin"\n'
    )
    auth = sandbox.connect_auth("connect_source")
    if auth:
        text += (
            f'username = "{auth[0]}"\npassword_env = "{connect_password_env("connect_source")}"\n'
        )
    return text


def _write_bot_config(sandbox: Sandbox) -> None:
    """A kafka-migrate.toml the bot can use as is; passwords go to sandbox.env (mode 600)."""
    env = {
        "SANDBOX_SOURCE_PASSWORD": sandbox.source.users["admin"],
        "SANDBOX_TARGET_PASSWORD": sandbox.target.users["admin"],
    }
    for worker in sorted(WORKER_CLUSTERS):
        auth = sandbox.connect_auth(worker)
        if auth:
            env[connect_password_env(worker)] = auth[1]
    write_private(sandbox.dir / "sandbox.env", "".join(f"{k}={v}\n" for k, v in env.items()))
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
    connect_clusters = ""
    for name, worker, url in (
        ("sandbox-connect-source", "connect_source", sandbox.connect_source_url),
        ("sandbox-connect-target", "connect", sandbox.connect_url),
    ):
        connect_clusters += f'\n[connect_clusters.{name}]\nurl = "{url}"\n'
        auth = sandbox.connect_auth(worker)
        if auth:
            connect_clusters += (
                f'username = "{auth[0]}"\npassword_env = "{connect_password_env(worker)}"\n'
            )
    sandbox.config_file.write_text(
        "# Written by `kafka-migrate sandbox up`: the local sandbox's clusters, its MM2 Connect\n"
        "# cluster (on the target: its first worker, and how many it has), the reverse flow's\n"
        "# worker (on the source) and its two Connect clusters.\n"
        "# Passwords are not in this file: they are read from sandbox.env beside it.\n"
        'env_file = "sandbox.env"\n'
        + clusters
        + f'\n[replicators.sandbox-mm2]\nkind = "connect"\nurl = "{sandbox.connect_url}"\n'
        + f"workers = {sandbox.connect_workers}\n"
        + _back_replicator(sandbox)
        + connect_clusters
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
    """Stop exactly the processes `up` started (the Connect workers first, together, extra
    ones included), and wait for their ports."""
    sandbox = load(directory)
    if sandbox is None:
        log(f"no sandbox in {Path(directory).resolve()}")
        return
    workers = [pid for name, pid in sandbox.pids.items() if name not in BROKERS]
    with ThreadPoolExecutor(max(1, len(workers))) as pool:
        list(pool.map(lambda pid: jvm.stop(pid, str(sandbox.dir)), workers))
    for name in ("target", "source"):
        pid = sandbox.pids.get(name)
        if pid:
            jvm.stop(pid, str(sandbox.dir))
    deadline = time.monotonic() + 30
    while any(jvm.port_open(p) for p in sandbox.ports.values()) and time.monotonic() < deadline:
        time.sleep(0.1)
    state_path(sandbox.dir).unlink(missing_ok=True)
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
    if recorded and state_path(Path(recorded)).exists():
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
