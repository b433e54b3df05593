"""Payload logging: sampling, errors, a bounded buffer that drops (and counts) instead of blocking, sinks."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from modelplane.serving.config import PayloadLogging
from modelplane.serving.inference import InferenceRequest, InferenceResponse, RequestInput, ResponseOutput
from modelplane.serving.metrics import ServingMetrics
from modelplane.serving.payload_log import PayloadLogger
from modelplane.serving.sinks import FileSink

from .conftest import Models, serve

REQUEST = InferenceRequest(
    inputs=[
        RequestInput("X", "FP32", (1, 2), np.float32([[1.5, 2.0]])),
        RequestInput("s", "BYTES", (1,), np.array(["é"], dtype=object)),
    ],
    id="abc",
)
RESPONSE = InferenceResponse("m", "1", [ResponseOutput("y", "INT64", np.int64([7]))], id="abc")


def offer(logger: PayloadLogger, ok: bool = True) -> None:
    if logger.sampled(ok):
        logger.offer(
            model_name="m",
            model_version="1",
            outcome="success" if ok else "invalid_input",
            status=200 if ok else 400,
            seconds=0.001,
            request=REQUEST,
            response=RESPONSE if ok else None,
            error=None if ok else "bad input",
        )


def records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def file_logger(path: Path, metrics: ServingMetrics, **options: Any) -> PayloadLogger:
    settings = {"mode": "All", "sampleRate": 1.0, "sink": {"path": str(path)}, "flushIntervalMs": 20, **options}
    return PayloadLogger(PayloadLogging.model_validate(settings), FileSink(path), metrics)


def test_record_format(tmp_path: Path) -> None:
    path = tmp_path / "payloads.jsonl"
    logger = file_logger(path, ServingMetrics())
    logger.start()
    offer(logger)
    offer(logger, ok=False)
    logger.stop()
    ok, failed = records(path)
    assert ok["timestamp"].endswith("Z")
    assert {k: v for k, v in ok.items() if k != "timestamp"} == {
        "modelName": "m",
        "modelVersion": "1",
        "requestId": "abc",
        "outcome": "success",
        "status": 200,
        "error": None,
        "latencySeconds": 0.001,
        "inputs": [
            {"name": "X", "datatype": "FP32", "shape": [1, 2], "data": [1.5, 2.0]},
            {"name": "s", "datatype": "BYTES", "shape": [1], "data": ["é"]},
        ],
        "outputs": [{"name": "y", "datatype": "INT64", "shape": [1], "data": [7]}],
    }
    assert failed["status"] == 400
    assert failed["error"] == "bad input"
    assert "outputs" not in failed


@pytest.mark.parametrize(("mode", "fields"), [("Request", {"inputs"}), ("Response", {"outputs"})])
def test_modes(tmp_path: Path, mode: str, fields: set[str]) -> None:
    path = tmp_path / "p.jsonl"
    logger = file_logger(path, ServingMetrics(), mode=mode)
    logger.start()
    offer(logger)
    logger.stop()
    (record,) = records(path)
    assert {"inputs", "outputs"} & set(record) == fields


def test_sampling_and_errors(tmp_path: Path) -> None:
    metrics = ServingMetrics()
    counts = {}
    for rate in (0.0, 0.25, 1.0):
        path = tmp_path / f"rate-{rate}.jsonl"
        logger = file_logger(path, metrics, sampleRate=rate, includeErrors=False)
        logger.start()
        for _ in range(400):
            offer(logger)
            offer(logger, ok=False)
        logger.stop()
        lines = records(path)
        assert all(line["status"] == 200 for line in lines)  # errors left out
        counts[rate] = len(lines)
    assert counts[0.0] == 0
    assert 40 <= counts[0.25] <= 160  # binomial(400, 0.25): mean 100, sd ~8.7
    assert counts[1.0] == 400


class BlockingSink:
    """A sink that blocks until released, then remembers what it got."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.count = 0

    def write(self, lines: bytes, count: int) -> None:
        self.release.wait(10)
        self.count += count

    def close(self) -> None:
        self.release.set()


def test_a_full_buffer_drops_and_counts_without_blocking() -> None:
    metrics = ServingMetrics()
    sink = BlockingSink()
    settings = PayloadLogging.model_validate(
        {
            "mode": "All",
            "sampleRate": 1,
            "sink": {"path": "/unused"},
            "bufferSize": 5,
            "batchSize": 1,
            "flushIntervalMs": 10,
        }
    )
    logger = PayloadLogger(settings, sink, metrics)
    logger.start()
    started = time.perf_counter()
    for _ in range(50):
        offer(logger)
    elapsed = time.perf_counter() - started
    dropped = metrics.registry.get_sample_value("modelplane_serving_payload_records_total", {"result": "dropped"})
    sink.release.set()
    logger.stop()
    written = metrics.registry.get_sample_value("modelplane_serving_payload_records_total", {"result": "written"})
    assert elapsed < 0.5  # the writer was blocked the whole time: offering never waited for it
    assert dropped is not None
    assert dropped >= 44
    assert written == sink.count == 50 - dropped


def test_sink_failures_are_counted(tmp_path: Path) -> None:
    class FailingSink(BlockingSink):
        def write(self, lines: bytes, count: int) -> None:
            raise OSError("disk full")

    metrics = ServingMetrics()
    settings = PayloadLogging.model_validate(
        {"mode": "All", "sampleRate": 1, "sink": {"path": "/x"}, "flushIntervalMs": 10}
    )
    logger = PayloadLogger(settings, FailingSink(), metrics)
    logger.start()
    for _ in range(3):
        offer(logger)
    logger.stop()
    assert metrics.registry.get_sample_value("modelplane_serving_payload_records_total", {"result": "failed"}) == 3


class Collector(http.server.BaseHTTPRequestHandler):
    """Records every POSTed batch."""

    batches: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Collector.batches.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[str]:
    Collector.batches = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Collector)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/payloads"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_server_posts_sampled_payloads_to_an_http_sink(models: Models, collector: str) -> None:
    config = {
        "models": [models.iris.model("iris")],
        "payloadLogging": {
            "mode": "All",
            "sampleRate": 1,
            "includeErrors": True,
            "flushIntervalMs": 50,
            "sink": {"url": collector, "headers": {"Authorization": "Bearer t"}},
        },
    }
    good = {"id": "g", "inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32", "data": [5.1, 3.5, 1.4, 0.2]}]}
    with serve(config) as running, running.client() as client:
        for _ in range(3):
            assert client.post("/v2/models/iris/infer", json=good).status_code == 200
        assert client.post("/v1/models/iris:predict", json={"instances": [[1, 2, 3, 4]]}).status_code == 200
        assert client.post("/v2/models/iris/infer", json={"inputs": [{"name": "nope"}]}).status_code == 400
    # the server stopped: the logger flushed everything on shutdown
    lines = [json.loads(line) for _, body in Collector.batches for line in body.splitlines()]
    headers = Collector.batches[0][0]
    assert headers["Content-Type"] == "application/x-ndjson"
    assert headers["Authorization"] == "Bearer t"
    assert sum(int(h["X-Record-Count"]) for h, _ in Collector.batches) == len(lines) == 5
    assert [line["status"] for line in lines] == [200, 200, 200, 200, 400]
    assert lines[0]["inputs"][0]["data"] == pytest.approx([5.1, 3.5, 1.4, 0.2])
    assert [o["name"] for o in lines[0]["outputs"]] == ["label", "probabilities"]
    assert lines[0]["requestId"] == "g"
    assert lines[3]["inputs"][0]["shape"] == [1, 4]
    assert lines[4]["error"].startswith("input 'nope' has unknown datatype")
    assert "inputs" not in lines[4]
