"""``python -m modelplane.serving``: the entry point, readiness, and a graceful shutdown that drains requests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
import yaml

from harness.ports import free_port, wait_until

from .conftest import Models

STOPPED = (0, -signal.SIGTERM)
"""uvicorn re-raises the signal it stopped on once shut down, so the exit status says SIGTERM."""
BODY = orjson.dumps({"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}]})


@pytest.fixture
def process(models: Models, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    config = tmp_path / "models.yaml"
    config.write_text(yaml.safe_dump({"models": [models.iris.model("iris", batching={"maxBatchSize": 8})]}))
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "modelplane.serving",
            "--config",
            str(config),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/v2/health/ready").status_code == 200
        except httpx.TransportError:
            return proc.poll() is not None

    try:
        wait_until(ready, timeout=30, what="the server to become ready")
        assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        if proc.stdout:
            proc.stdout.close()


def test_entry_point_serves(process: tuple[subprocess.Popen[bytes], str]) -> None:
    proc, url = process
    response = httpx.post(f"{url}/v2/models/iris/infer", content=BODY)
    assert response.status_code == 200
    assert response.json()["outputs"][0]["data"] == [0]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(15) in STOPPED
    output = proc.stdout.read().decode() if proc.stdout else ""
    assert "Loaded model 'iris' version '1'" in output


def test_shutdown_drains_in_flight_requests(process: tuple[subprocess.Popen[bytes], str]) -> None:
    proc, url = process
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        head = (
            f"POST /v2/models/iris/infer HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(BODY)}\r\n\r\n"
        ).encode()
        conn.sendall(head + BODY[:10])  # the request is in flight: its body is half sent
        time.sleep(0.2)
        proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        with pytest.raises(httpx.TransportError):  # no new connections once shutting down
            httpx.get(f"{url}/v2/health/live", timeout=2)
        assert proc.poll() is None  # still draining
        conn.sendall(BODY[10:])
        response = b""
        while not response.endswith(b"}") and (chunk := conn.recv(65536)):
            response += chunk
    status_line, _, rest = response.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 200 OK"
    assert orjson.loads(rest.partition(b"\r\n\r\n")[2])["model_name"] == "iris"
    assert proc.wait(15) in STOPPED


def test_invalid_config_refuses_to_start(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("models: []")
    result = subprocess.run(
        [sys.executable, "-m", "modelplane.serving", "--config", str(config)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "Refused to start" in result.stderr
    assert "at least 1 item" in result.stderr
