"""The Apache Kafka jars the sandbox runs, resolved from Maven Central with `pom.xml`.

Fetched once into a cache directory keyed by the pom's content; later runs find the marker
file and start without Maven. Connector plugins that are not part of Connect itself (the
FileStream connectors) are moved into `<lib>/plugins/<plugin>/` after the copy: the JVMs'
classpath `<lib>/*` does not descend into subdirectories, so only a worker given
`plugin.path=<lib>/plugins` has them, as a Connect cluster has the plugins installed on it.
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
REQUIRED = (
    "kafka_2.13-",
    "connect-runtime-",
    "connect-mirror-",
    "kafka-tools-",
    "connect-file-",
    "connect-basic-auth-extension-",
)
PLUGINS = "plugins"
# plugin directory -> the prefix of the jars that go into it (and leave the classpath)
PLUGIN_JARS = {"connect-file": "connect-file-"}


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


def plugin_path(lib: Path) -> Path:
    """The directory a Connect worker's `plugin.path` names: one subdirectory per plugin."""
    return lib / PLUGINS


def _move_plugins(out: Path) -> None:
    for plugin, prefix in PLUGIN_JARS.items():
        home = plugin_path(out) / plugin
        home.mkdir(parents=True)
        for jar in out.glob(f"{prefix}*.jar"):
            jar.rename(home / jar.name)


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
        _move_plugins(out)
        seconds = time.monotonic() - started
        (out / MARKER).write_text(f"kafka {kafka_version()} fetched in {seconds:.1f}s\n")
        if lib.exists():
            shutil.rmtree(lib)
        out.rename(lib)
    log(f"fetched {len(names)} jars in {seconds:.1f}s")
    return lib
