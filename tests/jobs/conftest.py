"""Fixtures of the job tests: an SDK client of a live control plane, job contexts, resources, data files,
a tiny HTTP file server (the http source), and ``python -m modelplane.jobs`` run as the operator runs it."""

from __future__ import annotations

import functools
import http.server
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest

from modelplane.apis.v1alpha1.dataset import Dataset
from modelplane.apis.v1alpha1.training_run import TrainingRun
from modelplane.jobs.context import JobContext
from modelplane.jobs.result import MAX_RESULT_BYTES
from modelplane.sdk import ClientConfig, ModelPlaneClient

ADMIN_TOKEN = "test-admin-token"
IRIS_SPECIES = np.array(["setosa", "versicolor", "virginica"])


@pytest.fixture
def client(live_api, namespace) -> Iterator[ModelPlaneClient]:
    config = ClientConfig(api_url=live_api.url, token=ADMIN_TOKEN, namespace=namespace)
    with ModelPlaneClient(config) as client:
        yield client


@pytest.fixture
def ctx(client, tmp_path) -> JobContext:
    workdir = tmp_path / "work"
    workdir.mkdir()
    return JobContext(client=client, workdir=workdir)


def resource(kind: str, spec: dict[str, Any], name: str, generation: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "modelplane.io/v1alpha1",
        "kind": kind,
        "metadata": {"name": name, "namespace": "ml", "uid": str(uuid.uuid4()), "generation": generation},
        "spec": spec,
    }


@pytest.fixture
def make_dataset() -> Callable[..., Dataset]:
    def make(spec: dict[str, Any], name: str = "iris", generation: int = 1) -> Dataset:
        return Dataset.from_wire(resource("Dataset", spec, name, generation))

    return make


@pytest.fixture
def make_run() -> Callable[..., TrainingRun]:
    def make(spec: dict[str, Any], name: str = "train") -> TrainingRun:
        return TrainingRun.from_wire(resource("TrainingRun", spec, name))

    return make


class Data:
    """Helpers that make test data (a fixture, since test modules cannot import this conftest)."""

    @staticmethod
    def pvc(path: Path) -> dict[str, Any]:
        """A pvc source; with no MODELPLANE_PVC_MOUNT (local mode) the path is a local path."""
        return {"pvc": {"claimName": "data", "path": str(path)}}

    @staticmethod
    def sklearn(loader: str) -> pa.Table:
        """A bundled scikit-learn dataset (no download) as a table; iris gets text labels."""
        return _sklearn_table(loader)

    @staticmethod
    def write(table: pa.Table, path: Path, data_format: str = "Csv") -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        if data_format == "Parquet":
            pq.write_table(table, path)
        elif data_format == "JsonLines":
            path.write_text("".join(json.dumps(row) + "\n" for row in table.to_pylist()))
        else:
            pa_csv.write_csv(table, path)
        return path


@functools.cache
def _sklearn_table(loader: str) -> pa.Table:
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, loader)()
    names = [str(n).replace(" (cm)", "").replace(" ", "_") for n in bunch.feature_names]
    columns = {name: bunch.data[:, i] for i, name in enumerate(names)}
    target = IRIS_SPECIES[bunch.target] if loader == "load_iris" else bunch.target
    return pa.table({**columns, "target": target})


@pytest.fixture
def data() -> type[Data]:
    return Data


@pytest.fixture
def iris() -> pa.Table:
    return Data.sklearn("load_iris")


@pytest.fixture
def iris_csv(iris, tmp_path) -> Path:
    return Data.write(iris, tmp_path / "data" / "iris.csv")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def http_files(tmp_path) -> Iterator[tuple[str, Path]]:
    """A directory served over HTTP on 127.0.0.1: (base URL, directory)."""
    root = tmp_path / "www"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=root))
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="http-files", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def job_env(live_api, namespace, tmp_path) -> dict[str, str]:
    """The environment the operator gives a job's container (the job contract), with none of this process's
    ``MODELPLANE_*``; the token file holds the admin token, the result file is ``tmp_path/termination-log``."""
    token_file = tmp_path / "token"
    token_file.write_text(f"{ADMIN_TOKEN}\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELPLANE_")}
    env.update(
        MODELPLANE_API_URL=live_api.url,
        MODELPLANE_TOKEN_FILE=str(token_file),
        MODELPLANE_NAMESPACE=namespace,
        MODELPLANE_RESULT_FILE=str(tmp_path / "termination-log"),
        MODELPLANE_WORKDIR=str(tmp_path),
    )
    return env


JobRunner = Callable[..., tuple[int, dict[str, Any], str]]


@pytest.fixture
def run_job(job_env) -> JobRunner:
    """``run_job(job, resource, timeout=120, **env)``: ``python -m modelplane.jobs JOB`` as a process with
    ``resource`` in ``MODELPLANE_RESOURCE``; its exit code, its result and its log (stderr).

    The result is stdout's last line, which must also be the whole result file (the termination log) and fit
    in it (``MAX_RESULT_BYTES``).
    """

    def run(job: str, resource: dict[str, Any], timeout: float = 120, **extra: str) -> tuple[int, dict[str, Any], str]:
        env = {**job_env, "MODELPLANE_RESOURCE": json.dumps(resource), **extra}
        process = subprocess.run(
            [sys.executable, "-m", "modelplane.jobs", job],
            check=False,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        last_line = process.stdout.strip().splitlines()[-1]
        with open(env["MODELPLANE_RESULT_FILE"], encoding="utf-8") as file:
            assert file.read() == last_line
        assert len(last_line.encode()) <= MAX_RESULT_BYTES
        return process.returncode, json.loads(last_line), process.stderr

    return run
