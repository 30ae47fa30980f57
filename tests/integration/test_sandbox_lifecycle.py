"""`kafka-migrate sandbox up/status/down` as a user runs it: real processes, real ports."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from bot.sandbox import jars, jvm

pytestmark = pytest.mark.sandbox


def cli(*args: str, env: dict | None = None, check: bool = True):
    result = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env=env or os.environ.copy(),
        timeout=300,
    )
    if check:
        assert result.returncode == 0, result.stdout + result.stderr
    return result


def listening(port: int) -> bool:
    """True when something on this machine LISTENs on the TCP port (from /proc/net/tcp*)."""
    needle = f":{port:04X} "
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if (fields[1] + " ").endswith(needle) and fields[3] == "0A":
                return True
    return False


def can_bind(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_up_status_down_leaves_nothing_behind(tmp_path):
    box = tmp_path / "box"
    # a cache of its own for the last-sandbox record (the jars stay where they are), and no
    # KAFKA_MIGRATE_SANDBOX_DIR: status and down below find the sandbox without --dir
    env = {k: v for k, v in os.environ.items() if k != "KAFKA_MIGRATE_SANDBOX_DIR"}
    env |= {"XDG_CACHE_HOME": str(tmp_path / "cache"), "KAFKA_MIGRATE_JARS": str(jars.lib_dir())}
    cli("sandbox", "up", "--dir", str(box), env=env)
    state = json.loads(cli("sandbox", "status", "--json", env=env).stdout)
    assert state["dir"] == str(box.resolve())
    for side in ("source", "target"):
        assert set(state[side]) >= {
            "bootstrap_servers",
            "security_protocol",
            "sasl_mechanism",
            "sasl_username",
            "sasl_password",
        }
        assert state[side]["security_protocol"] == "SASL_PLAINTEXT"
    assert state["connect"]["url"].startswith("http://127.0.0.1:")
    assert state["connect"]["cluster"] == "target"
    assert state["connect_source"]["url"].startswith("http://127.0.0.1:")
    assert state["connect_source"]["cluster"] == "source"
    assert state["connect_source"]["url"] != state["connect"]["url"]
    # passwords are printed for scripts, the Connect one like the brokers'; none in the text
    assert state["connect_source"]["username"] == "connect-admin"
    connect_password = state["connect_source"]["password"]
    assert "password" not in state["connect"]  # that worker asks for none
    text = cli("sandbox", "status", env=env).stdout
    assert "connect_source" in text and "user connect-admin" in text
    for password in (connect_password, state["source"]["sasl_password"]):
        assert password not in text
    workers = {"connect": True, "connect_source": True}
    assert state["running"] == {"source": True, "target": True, **workers}
    assert (box / "kafka-migrate.toml").exists()
    assert oct((box / "sandbox.env").stat().st_mode & 0o777) == "0o600"
    assert state["source"]["sasl_password"] not in (box / "kafka-migrate.toml").read_text()
    assert connect_password not in (box / "kafka-migrate.toml").read_text()

    saved = json.loads((box / "sandbox.json").read_text())
    pids, ports = list(saved["pids"].values()), list(saved["ports"].values())
    assert len(pids) == 4 and all(jvm.pid_alive(p) for p in pids)
    assert saved["connect_source"]["url"] == state["connect_source"]["url"]
    client_ports = [saved["ports"][k] for k in ("source", "target", "connect", "connect_source")]
    assert all(listening(p) for p in client_ports)

    cli("sandbox", "down", env=env)
    assert not (tmp_path / "cache" / "kafka-migrate" / "last-sandbox").exists()
    assert not any(jvm.pid_alive(p) for p in pids)
    assert not any(listening(p) for p in ports)
    assert all(can_bind(p) for p in ports)
    gone = cli("sandbox", "status", "--dir", str(box), check=False)
    assert gone.returncode == 2 and "no sandbox in" in gone.stderr


def test_bot_config_written_by_up_loads_as_is(sandbox):
    from bot import config

    settings = config.load(sandbox.config_file)
    assert set(settings.config.clusters) == {"sandbox-source", "sandbox-target"}
    assert settings.config.replicators["sandbox-mm2"].url == sandbox.connect_url
    assert set(settings.config.connect_clusters) == {
        "sandbox-connect-source",
        "sandbox-connect-target",
    }
    for name, url in (
        ("sandbox-connect-source", sandbox.connect_source_url),
        ("sandbox-connect-target", sandbox.connect_url),
    ):
        assert str(settings.connect_cluster(name).url).rstrip("/") == url
    old = settings.connect_cluster("sandbox-connect-source")
    assert (old.username, old.password_env) == ("connect-admin", "SANDBOX_CONNECT_SOURCE_PASSWORD")
    assert (old.username, settings.password(old.password_env, "k")) == sandbox.connect_auth(
        "connect_source"
    )
    new = settings.connect_cluster("sandbox-connect-target")
    assert new.username is None and new.password_env is None
    conf = settings.kafka_client_config("sandbox-source")
    assert conf["bootstrap.servers"] == sandbox.source.bootstrap_servers
    from confluent_kafka.admin import AdminClient

    admin = AdminClient(dict(conf))
    cluster = admin.describe_cluster(request_timeout=10).result(timeout=15)
    assert len(cluster.nodes) == 1


def test_second_fetch_uses_the_cache_without_maven(sandbox):
    assert jars.is_fetched()
    env = os.environ.copy()
    env["PATH"] = os.path.dirname(sys.executable)  # no mvn, no java on the path
    result = cli("sandbox", "fetch", env=env)
    assert "fetching" not in result.stdout
