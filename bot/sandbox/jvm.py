"""Start, watch and stop the sandbox's JVMs (by PID, never by name)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import psutil

JVM_FLAGS = ["-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k", "-Djava.awt.headless=true"]


class SandboxError(RuntimeError):
    pass


def free_ports(count: int) -> list[int]:
    """Ports the OS says are free on 127.0.0.1, all held open together so they differ."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def java_command(
    lib: Path,
    log_config: Path,
    heap: str,
    main: str,
    *args: str,
    properties: dict[str, object] | None = None,
) -> list[str]:
    """`properties`: more Java system properties (-Dkey=value); never a secret, since a
    process's command line is readable by every user of the machine."""
    return [
        "java",
        f"-Xmx{heap}",
        "-Xms32m",
        *JVM_FLAGS,
        f"-Dlog4j2.configurationFile={log_config}",
        f"-Dkafka.logs.dir={log_config.parent}",
        *(f"-D{key}={value}" for key, value in (properties or {}).items()),
        "-cp",
        f"{lib}/*",
        main,
        *args,
    ]


def run_tool(command: list[str], out: Path) -> None:
    """Run a short-lived Kafka tool (storage format); its output goes to `out`."""
    with out.open("ab") as sink:
        result = subprocess.run(command, stdout=sink, stderr=subprocess.STDOUT)
    if result.returncode != 0:
        raise SandboxError(
            f"{command[-5:]} failed (exit {result.returncode}); see {out}:\n" + tail(out)
        )


def spawn(command: list[str], out: Path) -> subprocess.Popen:
    """Start a long-running JVM in its own session so it outlives the starting command."""
    sink = out.open("ab")
    try:
        return subprocess.Popen(
            command,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    finally:
        sink.close()


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no output)"


def wait_until(
    check: Callable[[], bool], *, what: str, timeout: float, alive: Callable[[], bool], log: Path
) -> None:
    """Poll `check` until it holds; fail early if the process died, or at the deadline."""
    deadline = time.monotonic() + timeout
    delay = 0.1
    while True:
        if not alive():
            raise SandboxError(
                f"{what}: the process exited before it was ready; {log}:\n" + tail(log)
            )
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - not ready yet, whatever the client says
            pass
        if time.monotonic() > deadline:
            raise SandboxError(f"{what}: not ready after {timeout:.0f}s; see {log}:\n" + tail(log))
        time.sleep(delay)
        delay = min(delay * 1.5, 1.0)


def pid_alive(pid: int) -> bool:
    """True while `pid` runs; a zombie (exited, not yet reaped) is dead for our purposes."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:  # ZombieProcess included
        return False
    except psutil.AccessDenied:
        return True


def _owned(pid: int, marker: str) -> psutil.Process | None:
    """The process `pid` if its command line names our directory (`marker`), else None."""
    try:
        proc = psutil.Process(pid)
        if any(marker in arg for arg in proc.cmdline()):
            return proc
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        pass
    return None


def owns(pid: int, marker: str) -> bool:
    """True when `pid` is still the process we started (its command line names our dir)."""
    return _owned(pid, marker) is not None


def stop(pid: int, marker: str, timeout: float = 30.0) -> None:
    """SIGTERM the process we started, SIGKILL it if it lingers; never touches other PIDs.

    The signals go through the psutil.Process that passed the marker check: psutil refuses to
    signal it if the PID has since been reused by another process."""
    proc = _owned(pid, marker)
    if proc is None:
        return
    with contextlib.suppress(psutil.NoSuchProcess):
        proc.terminate()
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        _reap(proc)
        time.sleep(0.1)
    if pid_alive(pid):
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
        while pid_alive(pid):
            _reap(proc)
            time.sleep(0.05)
    _reap(proc)


def kill(pid: int, marker: str) -> None:
    """SIGKILL the process we started (a crash: no shutdown hook runs) and wait until it is
    gone; never touches other PIDs."""
    proc = _owned(pid, marker)
    if proc is None:
        return
    with contextlib.suppress(psutil.NoSuchProcess):
        proc.kill()
    while pid_alive(pid):
        _reap(proc)
        time.sleep(0.05)
    _reap(proc)


def _reap(proc: psutil.Process) -> None:
    """Collect the exit status if the process is our child and has exited (no zombie left)."""
    with contextlib.suppress(psutil.TimeoutExpired, psutil.NoSuchProcess, ChildProcessError):
        proc.wait(timeout=0)


def rss_mib(pid: int) -> float | None:
    try:
        return psutil.Process(pid).memory_info().rss / (1024 * 1024)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
