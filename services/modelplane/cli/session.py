"""The CLI's view of the local mode: its home, object store, daemon and control-plane client.

Where it sits: between the typer commands and :mod:`modelplane.local`. ``up`` starts the daemon in the
background and waits until it answers; ``down`` stops it; the resource commands read and write the
object store directly (the daemon notices through the store's change log), so ``apply`` and ``get`` work
while the daemon is down too — ``get`` then tells you nothing is reconciling.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import signal
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from modelplane.local.paths import LocalHome
from modelplane.local.state import SERVER_MODULES, admin_token, read_state
from modelplane.local.store import ObjectStore

DEFAULT_PORT = 8765


class SessionError(RuntimeError):
    """The local mode cannot do what was asked (with the reason for the user)."""


@dataclass
class Session:
    """One local installation as the CLI sees it."""

    home: LocalHome

    @classmethod
    def open(cls, home: Path | None = None) -> Session:
        return cls(LocalHome(home) if home else LocalHome.default())

    @functools.cached_property
    def store(self) -> ObjectStore:
        """The object store, opened once per session (a ``wait`` loop reads it many times)."""
        self.home.ensure()
        return ObjectStore(self.home.objects_db)

    def state(self) -> dict[str, Any] | None:
        return read_state(self.home)

    def api_url(self) -> str:
        state = self.state()
        if state is None:
            raise SessionError("the local mode is not running: start it with `modelplane up`")
        return str(state["apiUrl"])

    def client(self, timeout: float = 30.0) -> httpx.Client:
        """An authenticated client of the local control plane."""
        token = admin_token(self.home)
        return httpx.Client(base_url=self.api_url(), headers={"Authorization": f"Bearer {token}"}, timeout=timeout)

    def set_volumes(self, volumes: Mapping[str, Path]) -> None:
        """Map PersistentVolumeClaim names to local directories (kept in ``volumes.yaml``)."""
        current: dict[str, str] = {}
        if self.home.volumes_file.exists():
            current = yaml.safe_load(self.home.volumes_file.read_text(encoding="utf-8")) or {}
        current.update({claim: str(path.resolve()) for claim, path in volumes.items()})
        self.home.volumes_file.write_text(yaml.safe_dump(current, sort_keys=True), encoding="utf-8")

    def up(self, port: int = DEFAULT_PORT, timeout: float = 90.0) -> tuple[dict[str, Any], bool]:
        """Start the daemon unless it runs; (its state, whether it was started now)."""
        self.home.ensure()
        state = self.state()
        if state is not None:
            return state, False
        missing = [m for m in SERVER_MODULES if importlib.util.find_spec(m) is None]
        if missing:
            raise SessionError(
                f"the local mode needs the `local` extra (missing: {', '.join(missing)}): "
                "pip install 'modelplane[local]', or run `make demo` from a clone"
            )
        log = os.open(self.home.daemon_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        devnull = os.open(os.devnull, os.O_RDONLY)
        argv = [sys.executable, "-m", "modelplane.local", "--home", str(self.home.root), "--port", str(port)]
        try:  # a pid, not a Popen: the daemon outlives this process and nobody waits for it here
            pid = os.posix_spawn(
                sys.executable,
                argv,
                dict(os.environ),
                file_actions=[
                    (os.POSIX_SPAWN_DUP2, devnull, 0),
                    (os.POSIX_SPAWN_DUP2, log, 1),
                    (os.POSIX_SPAWN_DUP2, log, 2),
                ],
                setsid=True,
            )
        finally:
            os.close(log)
            os.close(devnull)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            code = _reap(pid)
            if code is not None:
                tail = self.home.daemon_log.read_text(encoding="utf-8", errors="replace")[-2000:]
                raise SessionError(f"the local daemon exited with code {code}:\n{tail}")
            state = self.state()
            if state is not None and int(state["pid"]) == pid:
                return state, True
            time.sleep(0.2)
        os.kill(pid, signal.SIGTERM)
        raise SessionError(f"the local daemon did not come up within {timeout:.0f}s (log: {self.home.daemon_log})")

    def down(self, timeout: float = 60.0) -> bool:
        """Stop the daemon; False when it was not running."""
        state = self.state()
        if state is None:
            return False
        pid = int(state["pid"])
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            _reap(pid)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                self.home.daemon_file.unlink(missing_ok=True)
                return True
            time.sleep(0.2)
        os.kill(pid, signal.SIGKILL)
        self.home.daemon_file.unlink(missing_ok=True)
        return True


def _reap(pid: int) -> int | None:
    """The exit status of ``pid`` if it is this process's child and has exited (reaping it), else None."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # started by another process: the init process reaps it
        return None
    return os.waitstatus_to_exitcode(status) if done else None
