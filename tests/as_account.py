"""Run `kafka-migrate ARGS...` as the OS account ACCOUNT: `python tests/as_account.py ACCOUNT ARGS`.

Started as root, it loads the interpreter's and the project's modules first (this machine's
Python lives under root's private home, where other accounts cannot read), then gives up root
for good (groups, gid, uid) and only then runs the CLI: everything the CLI does, it does as that
account, and `os.geteuid()` is that account's uid. A test-only launcher: the product never
changes its uid.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import pwd
import sys

# what the CLI imports lazily, loaded while the interpreter's files can still be read
PRELOAD = (
    "sqlite3",
    "sqlalchemy.dialects.sqlite.pysqlite",
    "sqlalchemy.sql.default_comparator",
    "encodings.idna",
    "zoneinfo",
    "uuid",
    "decimal",
    "getpass",
    "ctypes.util",
    "psycopg",  # DATABASE_URL=postgresql://...
    "sqlalchemy.dialects.postgresql.psycopg",
)


# the parts of the project the runbook verbs use (not `serve`, the Slack side, the sandbox)
PACKAGES = ("bot.migration", "bot.kafka", "bot.replicators", "bot.aiven")
MODULES = (
    "bot.cli",
    "bot.cli_text",
    "bot.config",
    "bot.db",
    "bot.dbmigrations",
    "bot.identity",
    "bot.models",
    "bot.secrets",
    "bot.service",
)


def preload() -> None:
    for package in PACKAGES:
        path = importlib.import_module(package).__path__
        for module in pkgutil.walk_packages(path, package + "."):
            importlib.import_module(module.name)
    for name in MODULES + PRELOAD:
        importlib.import_module(name)


def become(account: str) -> None:
    entry = pwd.getpwnam(account)
    os.setgroups([])
    os.setgid(entry.pw_gid)
    os.setuid(entry.pw_uid)  # real, effective and saved uid: no way back to root


if __name__ == "__main__":
    preload()
    become(sys.argv[1])
    from bot.cli import main

    sys.exit(main(sys.argv[2:]))
