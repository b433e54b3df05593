"""Peers' virtualenvs: each peer in one of its own, kept between runs, never in the project's environment.

Where it sits: ``tracking/servers.py`` (MLflow), ``serving/servers.py`` (MLServer, KServe) and
``tracking/profile_modelplane.py`` (py-spy) ask :func:`virtualenv` for an interpreter with their packages
before anything is timed: the only step of a benchmark that needs the network. A virtualenv is ready once
its marker file exists; one without it (an interrupted install) is made again.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "modelplane-bench"
VENVS = CACHE / "venvs"
READY_MARKER = ".bench-ready"


def _uv() -> str | None:
    beside = Path(sys.executable).parent / "uv"
    return str(beside) if beside.exists() else shutil.which("uv")


def virtualenv(root: Path, name: str, packages: list[str], fresh: bool = False) -> Path:
    """The virtualenv ``root/name`` with ``packages`` (made by uv if there is one, else venv + pip); its python."""
    venv = root / name
    python = venv / "bin" / "python"
    marker = venv / READY_MARKER
    if fresh and venv.exists():
        shutil.rmtree(venv)
    if not marker.exists():
        if venv.exists():
            shutil.rmtree(venv)
        root.mkdir(parents=True, exist_ok=True)
        uv = _uv()
        if uv:
            subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
            subprocess.run([uv, "pip", "install", "--quiet", "--python", str(python), *packages], check=True)
        else:
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
            subprocess.run([str(python), "-m", "pip", "install", "--quiet", *packages], check=True)
        marker.touch()
    return python


def spec_name(spec: str) -> str:
    """A pip spec as a folder name: ``mlflow==3.17.*`` -> ``mlflow__3.17._``."""
    return "".join(c if c.isalnum() or c in ".-" else "_" for c in spec)


def distribution_version(python: Path, distribution: str) -> str:
    """The installed version of ``distribution`` in the interpreter ``python``."""
    return subprocess.run(
        [str(python), "-c", f"import importlib.metadata as m; print(m.version({distribution!r}))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
