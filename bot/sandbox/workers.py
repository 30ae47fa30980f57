"""Kafka Connect distributed workers on the sandbox's clusters, all started one way.

The sandbox runs two Connect clusters (`state.WORKER_CLUSTERS`): `connect`, attached to the
target, runs MirrorMaker 2 and is the Connect cluster connectors move to (one worker, or N of
one group: `connect`, `connect_2`, ..., each with its REST port, started together);
`connect_source`, attached to the source, is the one they move from. Both have the
FileStream connectors from the plugin directory (`jars.plugin_path`); `connect_source` asks
for HTTP basic auth (user `state.CONNECT_USER`, its password generated like the brokers' and
kept in the state file), as real Connect clusters often do. A test starts more with
`start_worker` (a bare one, without the plugin directory, is a Connect cluster a plugin is
missing on; `basic_auth=True` gives it a password of its own) and removes them with
`remove_worker`. A worker's own cluster keeps its internal topics and its group.
`kill_worker` is a crash (SIGKILL: no goodbye to the group, no last offset commit).
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx

from bot.sandbox import jars, jvm, render
from bot.sandbox.state import (
    BASIC_AUTH_WORKERS,
    CONNECT,
    CONNECT_USER,
    WORKER_CLUSTERS,
    Sandbox,
    save,
    write_private,
)

MIRROR_PLUGINS = frozenset(
    {
        "org.apache.kafka.connect.mirror.MirrorSourceConnector",
        "org.apache.kafka.connect.mirror.MirrorCheckpointConnector",
        "org.apache.kafka.connect.mirror.MirrorHeartbeatConnector",
    }
)
FILE_PLUGINS = frozenset(
    {
        "org.apache.kafka.connect.file.FileStreamSourceConnector",
        "org.apache.kafka.connect.file.FileStreamSinkConnector",
    }
)
CONNECT_HEAP = os.environ.get("KAFKA_MIGRATE_SANDBOX_CONNECT_HEAP", "384m")
READY_TIMEOUT = 120.0
STOP_TIMEOUT = 30.0
MAIN = "org.apache.kafka.connect.cli.ConnectDistributed"
NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,39}")
RESERVED = frozenset({"source", "target", "source_controller", "target_controller", "logs"})


@dataclass(frozen=True)
class WorkerSpec:
    """A worker to start: its name (process, directory, and unless it `joins` another worker's
    Connect cluster, its group and topics), the sandbox cluster it is attached to, whether it
    gets the plugin directory (else: MM2's plugins only), whether its REST API asks for basic
    auth, and whether its source tasks are exactly-once."""

    name: str
    cluster: str = "target"
    plugins: bool = False
    basic_auth: bool = False
    joins: str | None = None
    exactly_once: bool = False


@dataclass(frozen=True)
class Worker:
    name: str
    cluster: str
    plugins: bool
    url: str
    port: int
    pid: int
    group: str
    topics: tuple[str, str, str]  # its internal topics (configs, offsets, status) on `cluster`
    auth: tuple[str, str] | None = field(default=None, repr=False)  # (user, password), httpx's
    joins: str | None = None
    exactly_once: bool = False

    @property
    def spec(self) -> WorkerSpec:
        return WorkerSpec(
            self.name,
            self.cluster,
            self.plugins,
            self.auth is not None,
            self.joins,
            self.exactly_once,
        )


Starting = tuple[Worker, subprocess.Popen]
SANDBOX_WORKERS = tuple(
    WorkerSpec(n, c, plugins=True, basic_auth=n in BASIC_AUTH_WORKERS)
    for n, c in WORKER_CLUSTERS.items()
)
OWN = {spec.name: spec for spec in SANDBOX_WORKERS}


def own_specs(sandbox: Sandbox) -> dict[str, WorkerSpec]:
    """The sandbox's own workers as it was started: the `connect_workers` of its `connect`
    cluster (the later ones join the first's group) and `connect_source`."""
    first = OWN[CONNECT]
    specs = {
        name: replace(
            first,
            name=name,
            joins=None if name == CONNECT else CONNECT,
            exactly_once=sandbox.exactly_once,
        )
        for name in sandbox.connect_names
    }
    return specs | {name: spec for name, spec in OWN.items() if name != CONNECT}


def worker_url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def start_worker(
    sandbox: Sandbox,
    name: str,
    cluster: str = "target",
    *,
    plugins: bool = False,
    basic_auth: bool = False,
) -> Worker:
    """Start the worker `name` attached to `cluster` and wait until it serves its plugins.

    A new name gets a free port, recorded with its PID in the sandbox's state (so `down` stops
    it too), and with `basic_auth` a password (`sandbox.connect_auth(name)`); the sandbox's own
    workers restart on their port, with their password."""
    return start_workers(sandbox, [WorkerSpec(name, cluster, plugins, basic_auth)])[0]


def start_workers(sandbox: Sandbox, specs: Iterable[WorkerSpec]) -> list[Worker]:
    """Spawn every worker first, then wait for each: they start at the same time."""
    starting = spawn_workers(sandbox, specs)
    try:
        return wait_workers(sandbox, starting)
    except BaseException:
        abandon(sandbox, starting)
        raise


def spawn_workers(sandbox: Sandbox, specs: Iterable[WorkerSpec]) -> list[Starting]:
    """Start the workers' JVMs without waiting for them (`wait_workers` does). A worker whose
    cluster is not up yet waits for it (its Kafka clients retry for a minute)."""
    specs = list(specs)
    for spec in specs:
        _check(sandbox, spec)
    lib = jars.fetch(log=lambda *_: None)
    starting: list[Starting] = []
    try:
        for spec in specs:
            starting.append(_spawn(sandbox, lib, spec))
    except BaseException:
        abandon(sandbox, starting)
        raise
    return starting


def wait_workers(
    sandbox: Sandbox, starting: Iterable[Starting], *, respawn_exited: bool = False
) -> list[Worker]:
    """Wait until each worker serves its plugins. With `respawn_exited`, a worker that exited
    is started once more: one spawned before its cluster was up gives up after a minute of
    retries (Connect's cluster id lookup) when the machine is slow to start the brokers."""
    ready = []
    for worker, proc in starting:
        try:
            _wait_ready(sandbox, worker, proc)
        except jvm.SandboxError:
            if not respawn_exited or proc.poll() is None:
                raise
            worker, proc = _spawn(sandbox, jars.fetch(log=lambda *_: None), worker.spec)
            _wait_ready(sandbox, worker, proc)
        ready.append(worker)
    return ready


def abandon(sandbox: Sandbox, starting: Iterable[Starting]) -> None:
    """Stop workers that did not get ready; forget the extra ones."""
    own = own_specs(sandbox)
    for worker, _proc in starting:
        jvm.stop(worker.pid, str(sandbox.dir))
        if worker.name not in own:
            _forget(sandbox, worker.name)


def stop_worker(sandbox: Sandbox, name: str) -> None:
    """Stop the worker (its connectors live on in its cluster's config topic) and wait until
    its port is closed."""
    pid = sandbox.pids.get(name)
    if pid:
        jvm.stop(pid, str(sandbox.dir))
    deadline = time.monotonic() + STOP_TIMEOUT
    while jvm.port_open(sandbox.ports[name]) and time.monotonic() < deadline:
        time.sleep(0.1)


def kill_worker(sandbox: Sandbox, name: str) -> None:
    """SIGKILL the worker, as a crash: it neither leaves its group nor commits its last source
    offsets; the group notices when its session times out. Waits until its port is closed."""
    pid = sandbox.pids.get(name)
    if pid:
        jvm.kill(pid, str(sandbox.dir))
    deadline = time.monotonic() + STOP_TIMEOUT
    while jvm.port_open(sandbox.ports[name]) and time.monotonic() < deadline:
        time.sleep(0.1)


def remove_worker(sandbox: Sandbox, worker: Worker) -> None:
    """Stop an extra worker, forget it, and delete its internal topics and group."""
    if worker.name in own_specs(sandbox):
        raise ValueError(f"{worker.name} is one of the sandbox's own workers: stop_worker it")
    stop_worker(sandbox, worker.name)
    _forget(sandbox, worker.name)
    _delete_traces(sandbox, worker)


def _check(sandbox: Sandbox, spec: WorkerSpec) -> None:
    if not NAME_RE.fullmatch(spec.name) or spec.name in RESERVED:
        raise ValueError(f"{spec.name!r} cannot name a worker (lower case, digits, _)")
    sandbox.endpoint(spec.cluster)  # refuses a cluster that is neither source nor target
    own = own_specs(sandbox).get(spec.name)
    if own is not None and spec != own:
        raise ValueError(
            f"{spec.name} is the sandbox's worker on the {own.cluster}, with the plugins"
            + (" and basic auth" if own.basic_auth else "")
        )
    pid = sandbox.pids.get(spec.name)
    if pid and jvm.owns(pid, str(sandbox.dir)) and jvm.pid_alive(pid):
        raise jvm.SandboxError(f"worker {spec.name} is already running (pid {pid})")


def _spawn(sandbox: Sandbox, lib: Path, spec: WorkerSpec) -> Starting:
    root = sandbox.dir
    port = sandbox.ports.get(spec.name) or jvm.free_ports(1)[0]
    endpoint = sandbox.endpoint(spec.cluster)
    home = root / spec.name
    home.mkdir(parents=True, exist_ok=True)
    props = home / "worker.properties"
    write_private(
        props,
        render.connect_worker(
            name=spec.name,
            bootstrap=endpoint.bootstrap_servers,
            rest_port=port,
            admin_password=endpoint.users["admin"],
            plugin_path=jars.plugin_path(lib) if spec.plugins else None,
            basic_auth=spec.basic_auth,
            joins=spec.joins,
            exactly_once=spec.exactly_once,
        ),
    )
    log4j = root / "logs" / f"log4j2-{spec.name}.properties"
    log4j.write_text(render.log4j2(root / "logs" / f"{spec.name}.log"))
    properties = _rest_login(sandbox, spec, home)
    command = jvm.java_command(lib, log4j, CONNECT_HEAP, MAIN, str(props), properties=properties)
    proc = jvm.spawn(command, root / "logs" / f"{spec.name}.out")
    sandbox.pids[spec.name] = proc.pid
    sandbox.ports[spec.name] = port
    save(sandbox)
    worker = Worker(
        name=spec.name,
        cluster=spec.cluster,
        plugins=spec.plugins,
        url=worker_url(port),
        port=port,
        pid=proc.pid,
        group=render.worker_group(spec.joins or spec.name),
        topics=render.worker_topics(spec.joins or spec.name),
        auth=sandbox.connect_auth(spec.name),
        joins=spec.joins,
        exactly_once=spec.exactly_once,
    )
    return worker, proc


def _rest_login(sandbox: Sandbox, spec: WorkerSpec, home: Path) -> dict[str, object]:
    """For a worker asking for basic auth: its users file and JAAS file (mode 600), its
    password kept (or generated the first time) in the sandbox's state, and the system
    property naming the JAAS file. The password is in no command line."""
    users, jaas = home / "rest-users.properties", home / "rest-jaas.conf"
    if not spec.basic_auth:
        sandbox.connect_passwords.pop(spec.name, None)
        users.unlink(missing_ok=True)
        jaas.unlink(missing_ok=True)
        return {}
    password = sandbox.connect_passwords.setdefault(spec.name, secrets.token_urlsafe(18))
    write_private(users, render.rest_users({CONNECT_USER: password}))
    write_private(jaas, render.rest_jaas(users))
    return {"java.security.auth.login.config": jaas}


def _wait_ready(sandbox: Sandbox, worker: Worker, proc: subprocess.Popen) -> None:
    expected = MIRROR_PLUGINS | (FILE_PLUGINS if worker.plugins else frozenset())

    def ready() -> bool:
        with httpx.Client(base_url=worker.url, auth=worker.auth, timeout=5) as client:
            if client.get("/health").status_code != 200:
                return False
            plugins = {p["class"] for p in client.get("/connector-plugins").json()}
            return plugins >= expected

    jvm.wait_until(
        ready,
        what=f"Kafka Connect worker {worker.name} on the {worker.cluster} "
        f"({'MirrorMaker 2 and FileStream' if worker.plugins else 'MirrorMaker 2'} plugins)",
        timeout=READY_TIMEOUT,
        alive=lambda: proc.poll() is None,
        log=sandbox.dir / "logs" / f"{worker.name}.out",
    )


def _forget(sandbox: Sandbox, name: str) -> None:
    sandbox.pids.pop(name, None)
    sandbox.ports.pop(name, None)
    sandbox.connect_passwords.pop(name, None)
    save(sandbox)


def _delete_traces(sandbox: Sandbox, worker: Worker) -> None:
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({**sandbox.endpoint(worker.cluster).client_config(), "log_level": 0})
    gone = (KafkaError.UNKNOWN_TOPIC_OR_PART, KafkaError.GROUP_ID_NOT_FOUND)
    futures = [
        *admin.delete_topics(list(worker.topics), operation_timeout=30).values(),
        *admin.delete_consumer_groups([worker.group], request_timeout=30).values(),
    ]
    for future in futures:
        try:
            future.result(timeout=60)
        except KafkaException as exc:
            if exc.args[0].code() not in gone:
                raise
