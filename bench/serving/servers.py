"""The servers under test, each started alone on 127.0.0.1, pinned to the server's cores, and stopped after.

Where it sits: ``measure.py`` (inside the benchmark's loopback-only network namespace) enters one of
these context managers per system and pass, drives it, and leaves it; ``run.py`` builds the peers'
virtualenvs beforehand (:func:`peer_venv`, the only step that needs the network).

Every system serves the same two ``.onnx`` files from one process with one event loop, each ONNX
Runtime session on one intra-op and one inter-op thread, and no log line per request:

* ``modelplane``: ``python -m modelplane.serving`` from this checkout, dynamic batching on;
* ``modelplane-nobatch``: the same server without batching (as the peers run);
* ``mlserver``: MLServer with a ~25-line custom runtime (``peers/mlserver_onnx.py``), inference in the
  server process (``parallel_workers: 0``: its default of 1 moves inference to a second process), access
  log off (``debug: false``), metrics on (ModelPlane's are on too);
* ``kserve``: KServe's ``ModelServer`` with a custom ``kserve.Model`` (``peers/kserve_onnx.py``), one
  uvicorn worker, gRPC off. It binds 0.0.0.0 whatever it is told, so it is only started when the
  benchmark runs in a private network namespace whose only interface is loopback.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common.processes import LOOPBACK, ServerError, free_port, process, wait_http
from common.venvs import spec_name, virtualenv

PEERS = Path(__file__).resolve().with_name("peers")
MLSERVER = "mlserver==1.7.1"
KSERVE = "kserve==0.21.0"
MODELPLANE_BATCHING = {"maxBatchSize": 256, "maxLatencyMs": 2}
SYSTEMS = ("modelplane", "modelplane-nobatch", "mlserver", "kserve")
PEER_SYSTEMS = ("mlserver", "kserve")


@dataclass(frozen=True)
class ServedFile:
    """One model as the servers need it: name, file, digest."""

    name: str
    path: Path
    sha256: str


@dataclass(frozen=True)
class Running:
    """A ready server: where it listens, its process id, how long it took to be ready."""

    base_url: str
    pid: int
    startup_seconds: float


def onnxruntime_spec() -> str:
    """The project's ONNX Runtime version, pinned in the peers' virtualenvs too (same kernels everywhere)."""
    return f"onnxruntime=={importlib.metadata.version('onnxruntime')}"


def peer_packages(system: str, spec: str) -> list[str]:
    """What a peer's virtualenv holds: the peer, the project's ONNX Runtime, and (MLServer) httptools.

    ``mlserver`` does not depend on httptools, so uvicorn would fall back to its pure-Python h11 parser;
    ModelPlane and KServe run on httptools, so MLServer gets it too (``uvicorn[standard]`` has it).
    """
    packages = [spec, onnxruntime_spec()]
    if system == "mlserver":
        packages.append("httptools")
    return packages


def peer_venv(root: Path, system: str, spec: str, fresh: bool = False) -> Path:
    """A virtualenv of its own for a peer (kept under ``root`` between runs, keyed by its packages); its python."""
    packages = peer_packages(system, spec)
    return virtualenv(root, "serving-" + "_".join(spec_name(p) for p in packages), packages, fresh)


def _pinned(argv: list[str], cpus: str | None) -> list[str]:
    return ["taskset", "-c", cpus, *argv] if cpus else argv


def _wait_models(base: str, models: list[ServedFile], proc: subprocess.Popen[bytes], log: Path) -> float:
    seconds = wait_http(f"{base}/v2/health/ready", proc, log, timeout=180)
    for model in models:
        seconds += wait_http(f"{base}/v2/models/{model.name}/ready", proc, log, timeout=60)
    return seconds


@contextlib.contextmanager
def modelplane(workdir: Path, models: list[ServedFile], cpus: str | None, batching: bool) -> Iterator[Running]:
    """ModelPlane's inference server from this checkout, with or without dynamic batching."""
    tag = "modelplane" if batching else "modelplane-nobatch"
    entries = []
    for model in models:
        entry: dict[str, object] = {
            "name": model.name,
            "uri": str(model.path),
            "sha256": model.sha256,
            "runtime": {"intraOpThreads": 1, "interOpThreads": 1},
        }
        if batching:
            entry["batching"] = MODELPLANE_BATCHING
        entries.append(entry)
    config = workdir / f"{tag}.json"
    config.write_text(json.dumps({"models": entries, "cacheDir": str(workdir / "cache")}, indent=2))
    port = free_port()
    argv = [sys.executable, "-m", "modelplane.serving", "--config", str(config)]
    argv += ["--host", LOOPBACK, "--port", str(port), "--log-level", "warning"]
    log = workdir / f"{tag}.log"
    started = time.monotonic()
    with process(_pinned(argv, cpus), log, _env(), workdir) as proc:
        base = f"http://{LOOPBACK}:{port}"
        _wait_models(base, models, proc, log)
        yield Running(base, proc.pid, time.monotonic() - started)


@contextlib.contextmanager
def mlserver(workdir: Path, models: list[ServedFile], cpus: str | None, python: Path) -> Iterator[Running]:
    """MLServer with the custom ONNX runtime, one process, on 127.0.0.1 (HTTP, gRPC and metrics ports)."""
    root = workdir / "mlserver-repository"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    port = free_port()
    settings = {
        "host": LOOPBACK,
        "http_port": port,
        "grpc_port": free_port(),
        "metrics_port": free_port(),
        "parallel_workers": 0,
        "debug": False,
        "load_models_at_startup": True,
    }
    (root / "settings.json").write_text(json.dumps(settings, indent=2))
    for model in models:
        folder = root / model.name
        folder.mkdir()
        model_settings = {
            "name": model.name,
            "implementation": "mlserver_onnx.OnnxRuntime",
            "parameters": {"uri": str(model.path)},
        }
        (folder / "model-settings.json").write_text(json.dumps(model_settings, indent=2))
    env = _env()
    env["PYTHONPATH"] = str(PEERS)
    argv = [str(python.parent / "mlserver"), "start", str(root)]
    log = workdir / "mlserver.log"
    started = time.monotonic()
    with process(_pinned(argv, cpus), log, env, root) as proc:
        base = f"http://{LOOPBACK}:{port}"
        _wait_models(base, models, proc, log)
        yield Running(base, proc.pid, time.monotonic() - started)


@contextlib.contextmanager
def kserve(
    workdir: Path, models: list[ServedFile], cpus: str | None, python: Path, private_network: bool
) -> Iterator[Running]:
    """KServe's model server (binds 0.0.0.0): refused unless the network namespace is loopback-only."""
    if not private_network:
        raise ServerError("KServe binds 0.0.0.0: it only runs inside the benchmark's private network namespace")
    port = free_port()
    argv = [str(python), str(PEERS / "kserve_onnx.py"), "--http_port", str(port)]
    argv += [f"{model.name}={model.path}" for model in models]
    log = workdir / "kserve.log"
    started = time.monotonic()
    with process(_pinned(argv, cpus), log, _env(), workdir) as proc:
        base = f"http://{LOOPBACK}:{port}"
        _wait_models(base, models, proc, log)
        yield Running(base, proc.pid, time.monotonic() - started)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MODELPLANE_SERVING_", "MLSERVER_", "KSERVE_"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def check_answer(base_url: str, model: str, body: bytes) -> dict[str, list[object]]:
    """POST one body; the outputs by name (``data`` flat), or :class:`ServerError` with the answer."""
    response = httpx.post(
        f"{base_url}/v2/models/{model}/infer", content=body, headers={"content-type": "application/json"}, timeout=30
    )
    if response.status_code != 200:
        raise ServerError(f"{base_url} {model}: {response.status_code} {response.text[:500]}")
    return {output["name"]: output["data"] for output in response.json()["outputs"]}
