"""Drive the real `kafka-migrate` CLI and a real `kafka-migrate serve` process, as people do.

People on the CLI are real OS accounts (ACCOUNTS): each CLI call runs as the person's account,
with USER and LOGNAME set to a name that is not theirs, so nothing can lean on them.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from confluent_kafka import Consumer, KafkaException, Producer

from tests.accounts import kafka_migrate_as, remove, shared_database, shared_dir

ACCOUNTS = {"alice": "km-alice", "bob": "km-bob", "carol": "km-carol"}

TIMING = """
[timing]
poll_interval_seconds = 1
{windows}ready_lag_records = {ready}
gate_expiry_seconds = {expiry}

[cli]
approvers = ["km-bob", "km-alice"]

[slack]
channel = "C0TEST"
approvers = ["U0APPROVER"]
two_person_rule = true
"""


class Workspace:
    """A config (the sandbox's clusters + test timing), a database, and a serve process, in a
    directory the test accounts can reach (removed by stop_serve)."""

    def __init__(
        self,
        sandbox,
        _private: Path | None = None,
        *,
        quiet: int | None = 3,  # None: the defaults (with a fence, a few looks), as shipped
        drain: int | None = 2,
        ready: int = 0,
        expiry: int = 3600,
        extra: str = "",
    ):
        """`extra`: more TOML (e.g. schema registries), appended to the config."""
        self.root = root = shared_dir("km-e2e-")
        base = sandbox.config_file.read_text()
        base = base[: base.index("[timing]")]
        (root / "sandbox.env").write_text((sandbox.dir / "sandbox.env").read_text())
        self.config = root / "kafka-migrate.toml"
        windows = "".join(
            f"{key} = {value}\n"
            for key, value in (("quiet_window_seconds", quiet), ("drain_window_seconds", drain))
            if value is not None
        )
        self.config.write_text(
            base + TIMING.format(windows=windows, ready=ready, expiry=expiry) + extra
        )
        self.env = {
            **os.environ,
            "KAFKA_MIGRATE_CONFIG": str(self.config),
            "DATABASE_URL": shared_database(root / "km.db"),
        }
        self.env.pop("SLACK_BOT_TOKEN", None)
        self.serve_proc: subprocess.Popen | None = None
        self.serve_log = root / "serve.log"
        self._store = None  # opened by peek()

    @staticmethod
    def actor(user: str) -> str:
        return f"cli:{ACCOUNTS[user]}"

    def cli(self, *args: str, user: str = "alice") -> subprocess.CompletedProcess:
        """`kafka-migrate ARGS` as `user`'s OS account, claiming in USER to be someone else."""
        return kafka_migrate_as(
            ACCOUNTS[user], list(args), env={**self.env, "USER": "root", "LOGNAME": "root"}
        )

    def ok(self, *args: str, user: str = "alice") -> str:
        result = self.cli(*args, user=user)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def start(self, text: str) -> str:
        out = self.ok("start", *text.split())
        return re.search(r"started (\S+):", out).group(1)

    def status(self, migration_id: str) -> dict:
        return json.loads(self.ok("status", migration_id, "--json"))

    def peek(self, migration_id: str) -> dict:
        """What `status ID --json` prints, read here from the same database and rendered by the
        same code: waits poll this (a CLI process per poll would take a core from the brokers
        and MirrorMaker 2); what people do still goes through the CLI."""
        from bot.cli_text import as_json
        from bot.db import open_database
        from bot.migration.store import Store
        from bot.migration.view import migration_view

        if self._store is None:
            self._store = Store(open_database(self.env["DATABASE_URL"]))
        return json.loads(as_json(migration_view(self._store, migration_id)))

    def lag_samples(self, migration_id: str) -> list:
        """The lag samples the serve process recorded (one per catch_up tick), newest first."""
        self.peek(migration_id)
        return self._store.lag_samples(migration_id)

    def events(self, migration_id: str) -> list:
        """The migration's audit trail as the serve process wrote it, oldest first."""
        self.peek(migration_id)
        return self._store.events(migration_id)

    def wait(self, migration_id: str, predicate, timeout: float = 120, what: str = "") -> dict:
        deadline = time.monotonic() + timeout
        status = None
        while time.monotonic() < deadline:
            status = self.peek(migration_id)
            if predicate(status):
                return status
            if status["status"] == "failed":
                raise AssertionError(f"migration failed: {status['reason']}")
            time.sleep(0.3)
        raise AssertionError(
            f"{what or 'condition'} not reached in {timeout}s: step "
            f"{status and status['step']}, note {status and status['waiting_for']}\n"
            + self.serve_log.read_text()[-3000:]
        )

    def wait_step(self, migration_id: str, step: str, timeout: float = 120) -> dict:
        return self.wait(migration_id, lambda s: s["step"] == step, timeout, f"step {step}")

    def wait_reached(self, migration_id: str, step: str, timeout: float = 120) -> dict:
        """Wait until the migration is at `step` or beyond it."""
        from bot.migration.steps import ORDER, Step

        target = ORDER.index(Step(step))
        return self.wait(
            migration_id,
            lambda s: ORDER.index(Step(s["step"])) >= target or s["status"] == "complete",
            timeout,
            f"step {step} or later",
        )

    def wait_gate(self, migration_id: str, step: str, timeout: float = 120) -> dict:
        return self.wait(
            migration_id,
            lambda s: s["step"] == step and s["gate"] and s["gate"].get("version") == s["version"],
            timeout,
            f"gate {step}",
        )

    def serve(self, port: int | None = None) -> None:
        """`port`: serve /healthz and /metrics there (PORT); none without it."""
        env = {k: v for k, v in self.env.items() if k != "PORT"}
        if port is not None:
            env["PORT"] = str(port)
        sink = self.serve_log.open("a")
        self.serve_proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "serve"],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
        sink.close()

    def kill_serve(self) -> None:
        """SIGKILL: no cleanup, no goodbye, as a crash."""
        self.serve_proc.send_signal(signal.SIGKILL)
        self.serve_proc.wait(30)

    def stop_serve(self) -> None:
        if self.serve_proc and self.serve_proc.poll() is None:
            self.serve_proc.terminate()
            try:
                self.serve_proc.wait(30)
            except subprocess.TimeoutExpired:
                self.serve_proc.kill()
        if self._store is not None:
            self._store.db.dispose()
        remove(self.root)


class LiveProducer(threading.Thread):
    """Writes numbered records until stopped; remembers what was acknowledged."""

    def __init__(self, conf: dict, topic: str, prefix: str, rate_per_s: float = 500):
        super().__init__(daemon=True)
        self.producer = Producer({**conf, "linger.ms": 5, "enable.idempotence": True})
        self.topic, self.prefix, self.pause = topic, prefix, 1.0 / rate_per_s
        self.acked: list[bytes] = []
        self.refused = None  # the error that ended the writes, if any
        self.halt = threading.Event()

    def run(self) -> None:
        i = 0
        while not self.halt.is_set():
            value = f"{self.prefix}-{i}".encode()
            try:
                self.producer.produce(
                    self.topic,
                    key=str(i % 50).encode(),
                    value=value,
                    on_delivery=lambda err, msg: err or self.acked.append(msg.value()),
                )
            except KafkaException as exc:  # e.g. a write fence: refused from now on
                self.refused = exc.args[0]
                break
            self.producer.poll(0)
            i += 1
            time.sleep(self.pause)
        self.producer.flush(30)
        self.producer = None  # destroyed now, not at exit when its brokers may be gone

    def stop(self) -> None:
        self.halt.set()
        self.join(60)


class LiveConsumer(threading.Thread):
    """Consumes as a group member and commits after every batch, until stopped."""

    def __init__(self, conf: dict, topic: str, group: str):
        super().__init__(daemon=True)
        self.consumer = Consumer(
            {
                **conf,
                "group.id": group,
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
            }
        )
        self.topic = topic
        self.values: list[bytes] = []
        self.halt = threading.Event()

    def run(self) -> None:
        self.consumer.subscribe([self.topic])
        while not self.halt.is_set():
            batch = self.consumer.consume(200, timeout=0.2)
            for msg in batch:
                assert msg.error() is None, msg.error()
                self.values.append(msg.value())
            if batch:
                self.consumer.commit(asynchronous=False)
        self.consumer.close()

    def stop(self) -> None:
        self.halt.set()
        self.join(60)
