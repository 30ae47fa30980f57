"""The Apache Kafka jars the sandbox runs, resolved from Maven Central with `pom.xml`.

Fetched once into a cache directory keyed by the pom's content; later runs find the marker
file and start without Maven.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from bot.errors import UserError

POM = Path(__file__).with_name("pom.xml")
MARKER = ".complete"
REQUIRED = ("kafka_2.13-", "connect-runtime-", "connect-mirror-", "kafka-tools-")


def kafka_version() -> str:
    match = re.search(r"<kafka.version>([^<]+)</kafka.version>", POM.read_text())
    if not match:
        raise RuntimeError(f"{POM}: no <kafka.version> property")
    return match.group(1)


def lib_dir() -> Path:
    """Where the jars live: $KAFKA_MIGRATE_JARS, else a per-user cache keyed by the pom."""
    if os.environ.get("KAFKA_MIGRATE_JARS"):
        return Path(os.environ["KAFKA_MIGRATE_JARS"])
    digest = hashlib.sha256(POM.read_bytes()).hexdigest()[:10]
    return cache_dir() / f"kafka-{kafka_version()}-{digest}"


def cache_dir() -> Path:
    """The per-user cache: $XDG_CACHE_HOME/kafka-migrate, else ~/.cache/kafka-migrate."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "kafka-migrate"


def is_fetched(lib: Path | None = None) -> bool:
    return ((lib or lib_dir()) / MARKER).exists()


def fetch(lib: Path | None = None, *, log=print) -> Path:
    """Make sure the jars are in `lib`; download them with Maven the first time."""
    lib = lib or lib_dir()
    if is_fetched(lib):
        return lib
    mvn = shutil.which("mvn")
    if not mvn:
        raise UserError("Maven (mvn) is needed once to fetch the Kafka jars: install Maven")
    lib.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    log(f"fetching Apache Kafka {kafka_version()} jars from Maven Central into {lib} ...")
    with tempfile.TemporaryDirectory(dir=lib.parent, prefix=".fetch-") as tmp:
        out = Path(tmp) / "lib"
        result = subprocess.run(
            [
                mvn,
                "-B",
                "-q",
                "-f",
                str(POM),
                "dependency:copy-dependencies",
                f"-DoutputDirectory={out}",
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
            raise UserError(f"Maven could not fetch the Kafka jars:\n{tail}")
        names = [p.name for p in out.glob("*.jar")]
        missing = [r for r in REQUIRED if not any(n.startswith(r) for n in names)]
        if missing:
            raise UserError(f"Maven fetched no jar for: {', '.join(missing)}")
        seconds = time.monotonic() - started
        (out / MARKER).write_text(f"kafka {kafka_version()} fetched in {seconds:.1f}s\n")
        if lib.exists():
            shutil.rmtree(lib)
        out.rename(lib)
    log(f"fetched {len(names)} jars in {seconds:.1f}s")
    return lib
