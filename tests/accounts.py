"""Real operating-system accounts for tests in which two people use the CLI.

The CLI takes its identity from the process's effective uid, so a test that needs "bob" runs the
CLI as the OS account `bob` (created here once, reused afterwards) through tests/as_account.py.
Creating accounts needs root, as CI and the development machines have. Files those accounts must
reach live in a shared directory (`shared_dir`): pytest's temporary directories are root's alone.
"""

from __future__ import annotations

import fcntl
import functools
import os
import pwd
import shlex
import shutil
import stat
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

import pytest

LAUNCHER = Path(__file__).with_name("as_account.py")


def os_account(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    if os.geteuid() != 0:
        pytest.skip(f"needs root to create the OS account {name!r} the test acts as")
    # one useradd at a time on this machine: test workers running side by side would otherwise
    # meet on /etc/passwd's lock ("cannot lock /etc/passwd; try again later")
    with open(Path(tempfile.gettempdir()) / "km-test-accounts.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
        made = subprocess.run(
            ["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
            capture_output=True,
            text=True,
        )
    try:
        return pwd.getpwnam(name)
    except KeyError:
        raise AssertionError(f"useradd {name} failed: {made.stderr}") from None


def kafka_migrate_as(name: str, args: list[str], *, env: dict, timeout: float = 120):
    """`kafka-migrate ARGS` run as the OS account `name` (see tests/as_account.py)."""
    os_account(name)
    if problem := _unreachable(name):
        pytest.fail(problem, pytrace=False)
    return subprocess.run(
        [sys.executable, str(LAUNCHER), name, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        umask=0o000,  # the database and its WAL files stay writable for every test account
    )


# what the CLI reads once it runs as the account: the checkout (the bot's modules it imports
# late), the environment's packages, and the shared directories (`shared_dir`)
def _needed() -> dict[str, Path]:
    return {
        "the checkout": LAUNCHER.parents[1],
        "its Python environment": Path(sysconfig.get_paths()["purelib"]),
        "the temporary directory": Path(tempfile.gettempdir()),
    }


# run as the account with a path's directories, from / down to the path: prints the first one
# it may not enter, or the path itself when it may not list it
_FIRST_CLOSED = (
    'for d; do [ -x "$d" ] || { printf %s "$d"; exit 1; }; done; [ -r "$d" ] || printf %s "$d"'
)


@functools.cache
def _unreachable(name: str) -> str | None:
    """Why the OS account `name` could not run the CLI from here, or None. A checkout inside a
    directory only root may enter (e.g. one made by `mktemp -d`, mode 700) fails every command
    run as another account with a ModuleNotFoundError: this says so before the first one."""
    account = pwd.getpwnam(name)
    for what, path in _needed().items():
        path = path.resolve()
        found = subprocess.run(
            ["/bin/sh", "-c", _FIRST_CLOSED, "sh", *map(str, reversed(path.parents)), str(path)],
            user=account.pw_uid,
            group=account.pw_gid,
            extra_groups=[],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if found.returncode not in (0, 1):
            return f"could not check what {name} can reach: {found.stderr.strip()}"
        if closed := found.stdout:
            mode = stat.filemode(os.stat(closed).st_mode)
            return (
                f"the test account {name} cannot read {what} ({path}): {closed} is closed to "
                f"other users ({mode}). Tests that run the CLI as another OS account need every "
                "directory from / down to the checkout, its .venv and the temporary directory "
                "readable and searchable by other users: "
                f"`chmod o+rx {shlex.quote(closed)}`, or clone into a directory others may enter "
                "(not one made by `mktemp -d`)"
            )
    return None


def shared_dir(prefix: str) -> Path:
    """A directory every test account can read and write; remove it with shutil.rmtree."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o777)
    return path


def shared_database(path: Path) -> str:
    """A SQLite database with its tables, writable by every test account (SQLite creates files
    0644 whatever the umask, and its WAL files take the database file's mode)."""
    from bot.db import open_database
    from bot.dbmigrations import init_db

    db = open_database(f"sqlite:///{path}")
    init_db(db)
    db.dispose()
    path.chmod(0o666)
    return f"sqlite:///{path}"


def remove(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
