"""Start and stop the servers under test: ModelPlane, MLflow (in its own throwaway virtualenv), Postgres.

Every server binds 127.0.0.1 on a free port, runs in its own process group with its output in a log
file under the work directory, and is stopped (SIGTERM to the group, then SIGKILL) when its context
exits, whatever happened inside (``common.processes``).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from common.facts import REPO
from common.processes import LOOPBACK, ServerError, free_port, process, wait_http
from common.venvs import distribution_version, spec_name, virtualenv
from tracking.clients import Metric, Pair

NAMESPACE = "bench"
CLIENT_PRINCIPAL = "bench-client"
RunData = tuple[str, list[Pair], list[Pair], list[Metric]]  # name, tags, params, metrics


# --- Backends --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Backend:
    """Database URLs of one backend for each system (each system gets its own, empty database)."""

    name: str
    modelplane_url: str
    mlflow_url: str
    version: str
    analyze_urls: tuple[str, ...] = ()  # Postgres: refresh planner statistics after a bulk load


def analyze(backend: Backend) -> None:
    """``ANALYZE`` both databases (what autovacuum would do soon after a table grows tenfold)."""
    from sqlalchemy import create_engine, text

    for url in backend.analyze_urls:
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.execute(text("ANALYZE"))
        finally:
            engine.dispose()


def sqlite_backend(workdir: Path) -> Backend:
    import sqlite3

    return Backend(
        name="sqlite",
        modelplane_url=f"sqlite+aiosqlite:///{workdir / 'modelplane.db'}",
        mlflow_url=f"sqlite:///{workdir / 'mlflow.db'}",
        version=f"SQLite {sqlite3.sqlite_version}",
    )


@contextlib.contextmanager
def postgres_backend() -> Iterator[Backend]:
    """A throwaway Postgres cluster (the test harness's), one database per system."""
    sys.path.insert(0, str(REPO / "tests"))
    from harness.postgres import temporary_cluster  # type: ignore[import-not-found,unused-ignore]

    with temporary_cluster() as server:
        modelplane_db = server.create_database("bench_modelplane")
        mlflow_db = server.create_database("bench_mlflow")
        with server.connect() as conn:
            row = conn.execute("SHOW server_version").fetchone()
        version = (
            f"PostgreSQL {row[0] if row else '?'} (fsync=off, synchronous_commit=off: the harness's throwaway cluster)"
        )
        yield Backend(
            name="postgres",
            modelplane_url=server.url(modelplane_db, driver="psycopg"),
            mlflow_url=server.url(mlflow_db, driver="psycopg2"),
            version=version,
            analyze_urls=(server.url(modelplane_db), server.url(mlflow_db)),
        )


# --- ModelPlane ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Running:
    """A ready server: where it listens, the token to use (ModelPlane), and how long start-up took."""

    base_url: str
    token: str
    startup_seconds: float
    pid: int


def modelplane_env(backend: Backend, workdir: Path, admin_token: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELPLANE_API_")}
    env.update(
        {
            "MODELPLANE_API_DB__URL": backend.modelplane_url,
            "MODELPLANE_API_ARTIFACTS__BACKEND": "local",
            "MODELPLANE_API_ARTIFACTS__LOCAL_ROOT": str(workdir / "modelplane-artifacts"),
            "MODELPLANE_API_AUTH__ADMIN_TOKEN": admin_token,
        }
    )
    return env


@contextlib.contextmanager
def modelplane_server(backend: Backend, workdir: Path, workers: int, python: str | None = None) -> Iterator[Running]:
    """ModelPlane on ``backend``: migrate, serve with uvicorn, and issue an editor token for the namespace.

    The workloads use that editor token (hashed, resolved like any client's: through the database, then the
    process's token cache for ``AUTH__TOKEN_CACHE_SECONDS``), not the bootstrap admin token
    (compared in memory), so the auth cost measured is a real client's.
    """
    python = python or sys.executable
    admin = secrets.token_urlsafe(24)
    env = modelplane_env(backend, workdir, admin)
    log = workdir / f"modelplane-{backend.name}.log"
    subprocess.run(
        [python, "-m", "modelplane.api.db.migrate", "upgrade"],
        env=env,
        cwd=workdir,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=300,
    )
    port = free_port()
    argv = [python, "-m", "uvicorn", "--factory", "modelplane.api.app:create_app"]
    argv += ["--host", LOOPBACK, "--port", str(port), "--workers", str(workers), "--log-level", "warning"]
    started = time.monotonic()
    with process(argv, log, env, workdir) as proc:
        base = f"http://{LOOPBACK}:{port}"
        wait_http(f"{base}/readyz", proc, log, timeout=120)
        startup = time.monotonic() - started
        answer = httpx.post(
            f"{base}/api/v1/tokens",
            headers={"authorization": f"Bearer {admin}"},
            json={"principal": CLIENT_PRINCIPAL, "description": "benchmark", "roles": {NAMESPACE: "editor"}},
            timeout=30,
        )
        answer.raise_for_status()
        yield Running(base_url=base, token=answer.json()["token"], startup_seconds=startup, pid=proc.pid)


def bulk_load_modelplane(backend: Backend, experiment: str, runs: list[RunData]) -> int:
    from tracking.bulk_modelplane import load

    return load(backend.modelplane_url, NAMESPACE, experiment, runs, CLIENT_PRINCIPAL)


def bulk_load_mlflow(backend: Backend, workdir: Path, python: Path, experiment: str, runs: list[RunData]) -> int:
    """Through ``bulk_mlflow.py`` in MLflow's interpreter, the runs as JSON lines on its stdin."""
    lines = "".join(
        json.dumps({"name": name, "tags": tags, "params": params, "metrics": metrics}) + "\n"
        for name, tags, params, metrics in runs
    )
    script = Path(__file__).with_name("bulk_mlflow.py")
    done = subprocess.run(
        [str(python), str(script), backend.mlflow_url, experiment, mlflow_artifacts(workdir)],
        input=lines,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise ServerError(f"bulk load into MLflow failed:\n{done.stderr[-3000:]}")
    return int(done.stdout.split()[-1])


# --- MLflow ----------------------------------------------------------------------------------------------


def mlflow_venv(root: Path, spec: str, fresh: bool = False) -> tuple[Path, str]:
    """A virtualenv of its own with ``spec`` (e.g. ``mlflow==3.17.*``) and psycopg2; its python and MLflow's version.

    Kept under ``root`` between benchmark runs (keyed by the spec) unless ``fresh``; never part of the
    project's environment.
    """
    python = virtualenv(root, spec_name(spec), [spec, "psycopg2-binary"], fresh)
    return python, distribution_version(python, "mlflow")


def mlflow_artifacts(workdir: Path) -> str:
    return str(workdir / "mlflow-artifacts")


@contextlib.contextmanager
def mlflow_server(backend: Backend, workdir: Path, workers: int, python: Path) -> Iterator[Running]:
    """``mlflow server`` on ``backend`` with ``workers`` uvicorn workers.

    MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false: MLflow 3.x otherwise starts seven huey job consumers (for
    its GenAI features) next to the server, which would take CPU from it on a small machine.
    """
    port = free_port()
    log = workdir / f"mlflow-{backend.name}.log"
    env = dict(os.environ)
    env.update({"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "PYTHONUNBUFFERED": "1"})
    argv = [str(python), "-m", "mlflow", "server", "--backend-store-uri", backend.mlflow_url]
    argv += ["--default-artifact-root", mlflow_artifacts(workdir), "--host", LOOPBACK, "--port", str(port)]
    argv += ["--workers", str(workers)]
    started = time.monotonic()
    with process(argv, log, env, workdir) as proc:
        base = f"http://{LOOPBACK}:{port}"
        wait_http(f"{base}/health", proc, log, timeout=240)
        yield Running(base_url=base, token="", startup_seconds=time.monotonic() - started, pid=proc.pid)
