"""Kafka's own file connectors on the sandbox's real Connect workers: the old one (attached to
the source, asking for basic auth) and the new one (attached to the target, beside
MirrorMaker 2).

Every helper takes the worker it calls as a `Rest` (its URL and credentials: `worker(sandbox,
"connect_source")`), a `bot.sandbox.Worker` started by a test, or a bare URL (no credentials).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.waits import wait_for

FILE_SOURCE = "org.apache.kafka.connect.file.FileStreamSourceConnector"
FILE_SINK = "org.apache.kafka.connect.file.FileStreamSinkConnector"
STRINGS = {
    "key.converter": "org.apache.kafka.connect.storage.StringConverter",
    "value.converter": "org.apache.kafka.connect.storage.StringConverter",
}


@dataclass(frozen=True)
class Rest:
    """A Connect worker's REST API as the tests call it."""

    url: str
    auth: tuple[str, str] | None = field(default=None, repr=False)


def worker(sandbox, name: str) -> Rest:
    """The sandbox's worker `connect` (on the target) or `connect_source` (on the source)."""
    url = {"connect": sandbox.connect_url, "connect_source": sandbox.connect_source_url}[name]
    return Rest(url, sandbox.connect_auth(name))


At = Rest | str  # or anything with .url and .auth (a bot.sandbox.Worker)


def client(at: At) -> httpx.Client:
    if isinstance(at, str):
        return httpx.Client(base_url=at, timeout=30)
    return httpx.Client(base_url=at.url, auth=at.auth, timeout=30)


def url_of(at: At) -> str:
    return at if isinstance(at, str) else at.url


def create(at: At, name: str, config: dict, initial_state: str | None = None) -> None:
    body = {"name": name, "config": {**STRINGS, "tasks.max": "1", **config}}
    if initial_state:
        body["initial_state"] = initial_state
    with client(at) as connect:
        answer = connect.post("/connectors", json=body)
        assert answer.status_code == 201, answer.text


def file_source(at: At, name: str, file: Path, topic: str) -> None:
    create(at, name, {"connector.class": FILE_SOURCE, "file": str(file), "topic": topic})


def file_sink(at: At, name: str, file: Path, topic: str, **extra: str) -> None:
    config = {"connector.class": FILE_SINK, "file": str(file), "topics": topic, **extra}
    create(at, name, config)


def status(at: At, name: str) -> dict | None:
    with client(at) as connect:
        answer = connect.get(f"/connectors/{name}/status")
        assert answer.status_code in (200, 404), answer.text
        return None if answer.status_code == 404 else answer.json()


def state(at: At, name: str) -> str:
    """RUNNING only with every task RUNNING; STOPPED only once no task is left."""
    body = status(at, name)
    if body is None:
        return "MISSING"
    connector, tasks = body["connector"]["state"], body.get("tasks", [])
    if connector == "RUNNING" and not (tasks and all(t["state"] == "RUNNING" for t in tasks)):
        return "STARTING"
    if connector == "STOPPED" and tasks:
        return "STOPPING"
    return connector


def wait_state(at: At, name: str, wanted: str, timeout: float = 60) -> None:
    what = f"{name} {wanted} at {url_of(at)}"
    wait_for(lambda: state(at, name) == wanted, timeout, what, every=0.2)


def config_of(at: At, name: str) -> dict:
    with client(at) as connect:
        answer = connect.get(f"/connectors/{name}/config")
        assert answer.status_code == 200, answer.text
        return answer.json()


def offsets(at: At, name: str) -> list:
    with client(at) as connect:
        answer = connect.get(f"/connectors/{name}/offsets")
        assert answer.status_code == 200, answer.text
        return answer.json()["offsets"]


def pause(at: At, name: str) -> None:
    with client(at) as connect:
        assert connect.put(f"/connectors/{name}/pause").status_code == 202


def names(at: At) -> list[str]:
    with client(at) as connect:
        answer = connect.get("/connectors")
        assert answer.status_code == 200, answer.text
        return answer.json()


def delete_all(at: At, prefix: str) -> None:
    with client(at) as connect:
        for name in names(at):
            if name.startswith(prefix):
                connect.delete(f"/connectors/{name}")


class GrowingFile(threading.Thread):
    """Appends numbered lines to a file until stopped, as an application's log grows."""

    def __init__(self, path: Path, prefix: str, per_second: float = 40):
        super().__init__(daemon=True)
        self.path, self.prefix, self.pause = path, prefix, 1.0 / per_second
        self.written = 0
        self.halt = threading.Event()
        path.touch()

    def run(self) -> None:
        with self.path.open("a") as out:
            while not self.halt.is_set():
                out.write(f"{self.prefix}-{self.written}\n")
                out.flush()
                self.written += 1
                time.sleep(self.pause)

    def stop(self) -> list[str]:
        self.halt.set()
        self.join(30)
        return self.path.read_text().splitlines()


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []
