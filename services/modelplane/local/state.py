"""The local mode's files that the CLI reads without starting anything: the daemon's state and admin token.

Kept apart from :mod:`.daemon` so that the CLI imports no server code (uvicorn, FastAPI, SQLAlchemy) to
ask whether the local mode runs: ``modelplane validate`` and ``get`` work with the core install alone.
"""

from __future__ import annotations

import json
import os
import secrets
from typing import Any

from modelplane.local.paths import LocalHome

SERVER_MODULES = ("uvicorn", "fastapi", "sqlalchemy", "aiosqlite", "alembic", "onnxruntime", "sklearn", "pyarrow")
"""What the daemon and the jobs it runs import: the ``local`` extra (api + operator + serving + jobs)."""


def admin_token(home: LocalHome) -> str:
    """The local control plane's admin token, created on first use (file mode 0600)."""
    path = home.admin_token_file
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    token = "mpt_local_" + secrets.token_urlsafe(24)
    path.touch(mode=0o600)
    path.write_text(token + "\n", encoding="utf-8")
    return token


def read_state(home: LocalHome) -> dict[str, Any] | None:
    """``daemon.json`` when the daemon it describes is alive, else None (a stale file is removed)."""
    try:
        state: dict[str, Any] = json.loads(home.daemon_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    try:
        os.kill(int(state["pid"]), 0)
    except (ProcessLookupError, KeyError, ValueError):
        home.daemon_file.unlink(missing_ok=True)
        return None
    except PermissionError:
        pass
    return state
