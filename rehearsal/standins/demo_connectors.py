"""The demo's Kafka Connect connectors, on the sandbox's old Connect cluster (`connect_source`,
attached to the source, asking for basic auth): an application's log file growing a line at a
time, a FileStreamSource writing its lines into the demo's `events` topic, and a
FileStreamSink archiving that topic into a file. A migration with
`connect_from=sandbox-connect-source connect_to=sandbox-connect-target` moves both: the source
stops with the producers, the sink with the consumers, and they go on on the target's Connect
from where they stood (the log file keeps growing meanwhile, as a log does).

`seed()` creates what is missing (a second run on the same sandbox creates nothing twice: the
log file keeps its lines, a connector of that name is left as it is); `start()` starts the
file's appender and `stop()` stops it and closes the file.
"""

from __future__ import annotations

import threading
from pathlib import Path

from bot.connect.rest import ConnectRest

FILE_SOURCE = "org.apache.kafka.connect.file.FileStreamSourceConnector"
FILE_SINK = "org.apache.kafka.connect.file.FileStreamSinkConnector"
STRING = "org.apache.kafka.connect.storage.StringConverter"
# the converters travel with the connectors (the workers' own pass bytes through, for MM2)
STRINGS = {"key.converter": STRING, "value.converter": STRING}
OLD, NEW = "sandbox-connect-source", "sandbox-connect-target"  # the bot config's names
FIRST_LINES = 20  # written by the seed, before any appender runs


class Appender(threading.Thread):
    """Appends numbered lines to the log file until stopped; counts on from the lines there."""

    def __init__(self, path: Path, prefix: str, per_second: float):
        super().__init__(name="demo-log-appender", daemon=True)
        self.path, self.prefix, self.pause = path, prefix, 1.0 / per_second
        self.written = count_lines(path)
        self.halt = threading.Event()

    def run(self) -> None:
        with self.path.open("a") as out:
            while not self.halt.wait(self.pause):
                out.write(line(self.prefix, self.written))
                out.flush()
                self.written += 1

    def stop(self) -> None:
        self.halt.set()
        self.join(30)


def line(prefix: str, number: int) -> str:
    return f"{prefix} event {number}\n"


def count_lines(path: Path) -> int:
    try:
        with path.open("rb") as data:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: data.read(1 << 16), b""))
    except FileNotFoundError:
        return 0


class DemoConnectors:
    def __init__(self, box, prefix: str, topic: str, *, per_second: float = 2.0):
        self.box, self.prefix, self.topic, self.per_second = box, prefix, topic, per_second
        self.appender: Appender | None = None
        self._lock = threading.Lock()

    # names ---------------------------------------------------------------------------------
    @property
    def source(self) -> str:
        return f"{self.prefix}-events-file"

    @property
    def sink(self) -> str:
        return f"{self.prefix}-events-archive"

    @property
    def names(self) -> tuple[str, str]:
        return (self.source, self.sink)

    @property
    def home(self) -> Path:
        return Path(self.box.dir) / f"rehearsal-{self.prefix}"

    @property
    def log_file(self) -> Path:
        return self.home / "events.log"

    @property
    def archive(self) -> Path:
        return self.home / "events-archive.log"

    def configs(self) -> dict[str, dict[str, str]]:
        return {
            self.source: {
                "connector.class": FILE_SOURCE,
                "file": str(self.log_file),
                "topic": self.topic,
                "tasks.max": "1",
                **STRINGS,
            },
            self.sink: {
                "connector.class": FILE_SINK,
                "file": str(self.archive),
                "topics": self.topic,
                "tasks.max": "1",
                **STRINGS,
            },
        }

    def rest(self, worker: str = "connect_source") -> ConnectRest:
        """The REST API of the sandbox's worker `connect_source` (old) or `connect` (new)."""
        name, url = (OLD, self.box.connect_source_url)
        if worker == "connect":
            name, url = (NEW, self.box.connect_url)
        user, password = self.box.connect_auth(worker) or (None, None)
        return ConnectRest(name, url, user, password)

    # seeding and the appender --------------------------------------------------------------
    def seed(self) -> list[str]:
        """The log file's first lines and the two connectors on the old Connect, where they
        are missing; the names of the connectors created."""
        self.home.mkdir(parents=True, exist_ok=True)
        if not self.log_file.exists():
            self.log_file.write_text("".join(line(self.prefix, i) for i in range(FIRST_LINES)))
        old = self.rest()
        try:
            return [
                name
                for name, config in self.configs().items()
                if old.create(name, config, initial_state="RUNNING")
            ]
        finally:
            old.close()

    def start(self) -> None:
        with self._lock:
            if self.appender is None:
                self.appender = Appender(self.log_file, self.prefix, self.per_second)
                self.appender.start()

    def stop(self) -> None:
        with self._lock:
            appender, self.appender = self.appender, None
        if appender is not None:
            appender.stop()

    def remove(self) -> None:
        """Delete the demo's connectors from both Connect clusters (tests clean up with it)."""
        self.stop()
        for worker in ("connect_source", "connect"):
            rest = self.rest(worker)
            try:
                for name in self.names:
                    rest.delete(name)
            finally:
                rest.close()

    def status(self) -> dict:
        return {
            "source": self.source,
            "sink": self.sink,
            "topic": self.topic,
            "appending": self.appender is not None,
            "lines": count_lines(self.log_file),
            "archived": count_lines(self.archive),
        }
