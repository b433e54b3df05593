"""Servers under test as child processes: started in their own process group, polled until ready, and stopped.

Where it sits: the benchmarks' server launchers (``tracking/servers.py``, ``serving/servers.py``) enter
:func:`process` per server and :func:`wait_http` until it answers; their scripts call
:func:`stop_on_signal` first, so that an interrupt unwinds those contexts. Every server binds
:data:`LOOPBACK` on a :func:`free_port`, writes its output to a log file, and is stopped (SIGTERM to the
group, then SIGKILL) when its context exits, whatever happened inside.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

LOOPBACK = "127.0.0.1"


class ServerError(RuntimeError):
    """A server did not start, with the tail of its log."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def log_tail(path: Path, size: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError:
        return ""


@contextlib.contextmanager
def process(argv: list[str], log: Path, env: dict[str, str], cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A child in its own process group; the whole group is stopped on exit."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        _stop_group(proc)


def _stop_group(proc: subprocess.Popen[bytes], grace: float = 20.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if proc.poll() is not None and not _group_alive(proc.pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=5)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait_http(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> float:
    """Poll ``url`` until it answers 200; the seconds it took. Fails early if the process exits."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if proc.poll() is not None:
            raise ServerError(f"{url}: the server exited with {proc.returncode}\n{log_tail(log)}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2.0).status_code == 200:
                return time.monotonic() - started
        time.sleep(0.25)
    raise ServerError(f"{url}: not ready after {timeout:.0f} s\n{log_tail(log)}")


def stop_on_signal() -> None:
    """SIGTERM and SIGINT unwind the stack, so every running server's context stops its process group.

    SIGINT explicitly: a shell starts background jobs with SIGINT ignored, and Python keeps it so.
    """
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda signum, _: sys.exit(128 + signum))
