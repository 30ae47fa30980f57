"""Kafka's own file connectors on the sandbox's real Connect workers: the old one (attached to
the source) and the new one (attached to the target, beside MirrorMaker 2)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx

from tests.waits import wait_for

FILE_SOURCE = "org.apache.kafka.connect.file.FileStreamSourceConnector"
FILE_SINK = "org.apache.kafka.connect.file.FileStreamSinkConnector"
STRINGS = {
    "key.converter": "org.apache.kafka.connect.storage.StringConverter",
    "value.converter": "org.apache.kafka.connect.storage.StringConverter",
}


def create(url: str, name: str, config: dict, initial_state: str | None = None) -> None:
    body = {"name": name, "config": {**STRINGS, "tasks.max": "1", **config}}
    if initial_state:
        body["initial_state"] = initial_state
    with httpx.Client(base_url=url, timeout=30) as connect:
        answer = connect.post("/connectors", json=body)
        assert answer.status_code == 201, answer.text


def file_source(url: str, name: str, file: Path, topic: str) -> None:
    create(url, name, {"connector.class": FILE_SOURCE, "file": str(file), "topic": topic})


def file_sink(url: str, name: str, file: Path, topic: str, **extra: str) -> None:
    config = {"connector.class": FILE_SINK, "file": str(file), "topics": topic, **extra}
    create(url, name, config)


def status(url: str, name: str) -> dict | None:
    with httpx.Client(base_url=url, timeout=30) as connect:
        answer = connect.get(f"/connectors/{name}/status")
        return None if answer.status_code == 404 else answer.json()


def state(url: str, name: str) -> str:
    """RUNNING only with every task RUNNING; STOPPED only once no task is left."""
    body = status(url, name)
    if body is None:
        return "MISSING"
    connector, tasks = body["connector"]["state"], body.get("tasks", [])
    if connector == "RUNNING" and not (tasks and all(t["state"] == "RUNNING" for t in tasks)):
        return "STARTING"
    if connector == "STOPPED" and tasks:
        return "STOPPING"
    return connector


def wait_state(url: str, name: str, wanted: str, timeout: float = 60) -> None:
    wait_for(lambda: state(url, name) == wanted, timeout, f"{name} {wanted} at {url}", every=0.2)


def config_of(url: str, name: str) -> dict:
    with httpx.Client(base_url=url, timeout=30) as connect:
        return connect.get(f"/connectors/{name}/config").json()


def offsets(url: str, name: str) -> list:
    with httpx.Client(base_url=url, timeout=30) as connect:
        return connect.get(f"/connectors/{name}/offsets").json()["offsets"]


def pause(url: str, name: str) -> None:
    with httpx.Client(base_url=url, timeout=30) as connect:
        assert connect.put(f"/connectors/{name}/pause").status_code == 202


def names(url: str) -> list[str]:
    with httpx.Client(base_url=url, timeout=30) as connect:
        return connect.get("/connectors").json()


def delete_all(url: str, prefix: str) -> None:
    with httpx.Client(base_url=url, timeout=30) as connect:
        for name in connect.get("/connectors").json():
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
