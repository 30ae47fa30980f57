"""`sandbox status` / `sandbox down` find the running sandbox without `--dir`: the
KAFKA_MIGRATE_SANDBOX_DIR variable, else the last one `sandbox up` started (recorded in the
per-user cache), else `.sandbox`. No JVM here: `up` is replaced by one that writes the state."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bot import cli
from bot import sandbox as sandbox_mod
from bot.sandbox import jvm, state


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A working directory and a cache of our own; no sandbox variable set."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv("KAFKA_MIGRATE_SANDBOX_DIR", raising=False)
    return tmp_path


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


@pytest.fixture
def fake_up(monkeypatch):
    """`sandbox.up` that records a (stopped) sandbox's state in the directory, as up does."""
    started: list[Path] = []

    def up(directory, *, connect_workers=1, exactly_once=False, log=print):
        root = Path(directory).resolve()
        root.mkdir(parents=True, exist_ok=True)
        workers = state.connect_names(connect_workers)
        names = (
            "source",
            "source_controller",
            "target",
            "target_controller",
            *workers,
            "connect_source",
        )
        ports = dict(zip(names, jvm.free_ports(len(names)), strict=True))
        users = {"admin": "pw", "alice": "pw", "bob": "pw"}
        box = sandbox_mod.Sandbox(
            root,
            sandbox_mod.Endpoint(f"127.0.0.1:{ports['source']}", users),
            sandbox_mod.Endpoint(f"127.0.0.1:{ports['target']}", users),
            connect_url=f"http://127.0.0.1:{ports['connect']}",
            connect_source_url=f"http://127.0.0.1:{ports['connect_source']}",
            pids={n: _dead_pid() for n in ("source", "target", *workers, "connect_source")},
            ports=ports,
            connect_workers=connect_workers,
            exactly_once=exactly_once,
        )
        sandbox_mod.save(box)
        started.append(root)
        return box

    monkeypatch.setattr(sandbox_mod, "up", up)
    return started


def status_dir(capsys) -> str:
    capsys.readouterr()
    cli.main(["sandbox", "status", "--json"])
    return json.loads(capsys.readouterr().out)["dir"]


def test_status_and_down_find_the_last_sandbox_started(home, fake_up, capsys):
    box = home / "elsewhere" / "box"
    assert cli.main(["sandbox", "up", "--dir", str(box)]) == 0
    recorded = home / "cache" / "kafka-migrate" / "last-sandbox"
    assert recorded.read_text().strip() == str(box.resolve())
    assert status_dir(capsys) == str(box.resolve())
    assert cli.main(["sandbox", "down"]) == 0
    assert "elsewhere/box stopped" in capsys.readouterr().out
    assert not (box / "sandbox.json").exists()
    assert not recorded.exists()  # cleared: the next status looks in .sandbox again
    assert cli.main(["sandbox", "status"]) == 2
    assert f"no sandbox in {home / 'work' / '.sandbox'}" in capsys.readouterr().err


def test_up_defaults_to_dot_sandbox_whatever_was_started_last(home, fake_up, capsys):
    cli.main(["sandbox", "up", "--dir", str(home / "first")])
    cli.main(["sandbox", "up"])
    assert fake_up == [home / "first", home / "work" / ".sandbox"]
    assert status_dir(capsys) == str(home / "work" / ".sandbox")


def test_the_variable_wins_over_the_record(home, fake_up, capsys, monkeypatch):
    cli.main(["sandbox", "up", "--dir", str(home / "recorded")])
    monkeypatch.setenv("KAFKA_MIGRATE_SANDBOX_DIR", str(home / "from-env"))
    cli.main(["sandbox", "up"])
    assert fake_up[-1] == home / "from-env"
    assert status_dir(capsys) == str(home / "from-env")
    # an explicit --dir wins over both
    assert cli.main(["sandbox", "status", "--json", "--dir", str(home / "recorded")]) == 1
    assert json.loads(capsys.readouterr().out)["dir"] == str(home / "recorded")


def test_a_record_whose_sandbox_is_gone_falls_back_to_dot_sandbox(home, fake_up, capsys):
    cli.main(["sandbox", "up", "--dir", str(home / "gone")])
    (home / "gone" / "sandbox.json").unlink()  # stopped by other means (serve, a test, rm)
    assert cli.main(["sandbox", "status"]) == 2
    assert f"no sandbox in {home / 'work' / '.sandbox'}" in capsys.readouterr().err


def test_down_of_another_sandbox_keeps_the_record(home, fake_up, capsys):
    cli.main(["sandbox", "up", "--dir", str(home / "a")])
    cli.main(["sandbox", "up", "--dir", str(home / "b")])
    cli.main(["sandbox", "down", "--dir", str(home / "a")])
    assert status_dir(capsys) == str(home / "b")


def test_the_record_lives_beside_the_jar_cache(home):
    from bot.sandbox import jars

    assert sandbox_mod.last_sandbox_file().parent == jars.cache_dir()
    assert jars.lib_dir().parent == jars.cache_dir() == home / "cache" / "kafka-migrate"


def test_up_takes_the_connect_cluster_asked_for_and_status_shows_its_workers(home, fake_up, capsys):
    box = home / "pair"
    argv = ["sandbox", "up", "--dir", str(box), "--connect-workers", "2", "--exactly-once"]
    assert cli.main(argv) == 0
    capsys.readouterr()
    cli.main(["sandbox", "status", "--json"])
    connect = json.loads(capsys.readouterr().out)["connect"]
    assert len(connect["workers"]) == 2 and connect["workers"][0] == connect["url"]
    assert connect["exactly_once"] is True
    cli.main(["sandbox", "status"])
    text = capsys.readouterr().out
    assert f"2 workers: {connect['workers'][0]}, {connect['workers'][1]}; exactly-once" in text
    assert "connect_2: NOT running" in text
