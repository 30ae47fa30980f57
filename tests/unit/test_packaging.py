"""`pip install .` gives the bot alone: the stand-ins (rehearsal/) are a distribution of their own,
installed by the `rehearsal` extra, and their dependencies are not the bot's."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STANDIN_ONLY = ("websockets", "openapi-core")


def _requirement_names(requirements: list[str]) -> set[str]:
    return {r.split(";")[0].split("[")[0].split("<")[0].split(">")[0].strip() for r in requirements}


def test_the_bots_dependencies_leave_out_the_standins_and_theirs():
    bot = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = _requirement_names(bot["dependencies"])
    assert not names & {"kafka-migrate-standins", *STANDIN_ONLY}
    assert bot["optional-dependencies"]["rehearsal"] == ["kafka-migrate-standins"]
    standins = tomllib.loads((ROOT / "rehearsal" / "pyproject.toml").read_text())["project"]
    assert set(STANDIN_ONLY) <= _requirement_names(standins["dependencies"])
    assert "kafka-migrate" in _requirement_names(standins["dependencies"])


def test_the_bots_wheel_holds_no_standin(tmp_path):
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",  # the backend of the dev install (pyproject.toml: dev)
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("kafka_migrate-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert any(n.startswith("bot/migration/") for n in names)
    assert not [n for n in names if n.startswith("standins/") or "rehearsal" in n]
    metadata = next(n for n in names if n.endswith("/METADATA"))
    requires = [
        line.removeprefix("Requires-Dist: ")
        for line in zipfile.ZipFile(wheel).read(metadata).decode().splitlines()
        if line.startswith("Requires-Dist: ")
    ]
    unconditional = [r for r in requires if "extra ==" not in r]
    assert not _requirement_names(unconditional) & {"kafka-migrate-standins", *STANDIN_ONLY}
