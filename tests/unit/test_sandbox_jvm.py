"""The sandbox's process handling (psutil): it only ever signals a PID whose command line
names the sandbox's directory, and treats a zombie as dead. No JVM: plain Python children."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from bot.sandbox import jvm


def child(marker: str, *, ignore_term: bool = False) -> subprocess.Popen:
    code = "import signal, sys, time\n"
    if ignore_term:
        code += "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    code += "print('ready', flush=True)\ntime.sleep(60)\n"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, f"-Dkafka.logs.dir={marker}/logs"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout.readline().strip() == "ready"  # the handler is in place
    return proc


@pytest.fixture
def procs():
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_owns_only_a_process_naming_the_marker(tmp_path, procs):
    proc = child(str(tmp_path / "box"))
    procs.append(proc)
    assert jvm.owns(proc.pid, str(tmp_path / "box"))
    assert not jvm.owns(proc.pid, str(tmp_path / "other-box"))
    assert not jvm.owns(os.getpid(), str(tmp_path / "box"))
    assert jvm.pid_alive(proc.pid)
    rss = jvm.rss_mib(proc.pid)
    assert rss is not None and 1 < rss < 1024


def test_gone_pids(tmp_path, procs):
    proc = child(str(tmp_path))
    procs.append(proc)
    proc.kill()
    proc.wait()  # reaped: the PID no longer exists
    assert not jvm.pid_alive(proc.pid)
    assert not jvm.owns(proc.pid, str(tmp_path))
    assert jvm.rss_mib(proc.pid) is None
    jvm.stop(proc.pid, str(tmp_path))  # nothing to stop, no error


def test_a_zombie_is_dead(tmp_path, procs):
    proc = child(str(tmp_path))
    procs.append(proc)
    proc.kill()
    deadline = time.monotonic() + 10
    while jvm.pid_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not jvm.pid_alive(proc.pid)  # exited, not yet waited for


def test_stop_terminates_our_process(tmp_path, procs):
    proc = child(str(tmp_path / "box"))
    procs.append(proc)
    jvm.stop(proc.pid, str(tmp_path / "box"), timeout=10)
    assert not jvm.pid_alive(proc.pid)


def test_stop_kills_a_process_that_ignores_sigterm(tmp_path, procs):
    proc = child(str(tmp_path / "box"), ignore_term=True)
    procs.append(proc)
    started = time.monotonic()
    jvm.stop(proc.pid, str(tmp_path / "box"), timeout=0.5)
    assert not jvm.pid_alive(proc.pid)
    assert time.monotonic() - started < 10


def test_stop_never_signals_a_process_without_the_marker(tmp_path, procs):
    """A recorded PID reused by another program: it is left alone."""
    stranger = child(str(tmp_path / "someone-else"))
    procs.append(stranger)
    jvm.stop(stranger.pid, str(tmp_path / "box"), timeout=0.5)
    assert stranger.poll() is None and jvm.pid_alive(stranger.pid)


def test_no_linux_only_proc_reads():
    """macOS has no /proc: the PID checks go through psutil."""
    import inspect

    assert "/proc" not in inspect.getsource(jvm)
