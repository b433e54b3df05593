"""Dynamic batching: concurrent requests merged (the histograms prove it) with results identical to unbatched."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import numpy as np
import onnxruntime as ort
import pytest

from modelplane.serving.batcher import Batcher
from modelplane.serving.config import Batching, Runtime
from modelplane.serving.executor import InferenceExecutor
from modelplane.serving.metrics import ServingMetrics
from modelplane.serving.model import OnnxModel

from .conftest import Models, Server


def body(rows: np.ndarray, request_id: str) -> dict[str, Any]:
    return {
        "id": request_id,
        "inputs": [{"name": "X", "shape": list(rows.shape), "datatype": "FP32", "data": rows.ravel().tolist()}],
    }


def outputs(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return {output["name"]: output for output in response.json()["outputs"]}


async def fire(url: str, path: str, bodies: list[dict[str, Any]]) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(bodies), max_keepalive_connections=len(bodies))
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:
        await asyncio.gather(*(client.get("/v2/health/live") for _ in bodies))  # open the connections first
        return await asyncio.gather(*(client.post(path, json=item) for item in bodies))


def test_concurrent_requests_are_merged_and_identical_to_unbatched(server: Server, models: Models) -> None:
    rng = np.random.default_rng(7)
    labels = {"model": "iris-batched", "version": "1"}
    merged = False
    for _ in range(5):  # merging depends on arrival timing: a few bursts make it certain in practice
        requests = []
        for index in range(48):
            rows = models.iris_x[rng.choice(len(models.iris_x), size=int(rng.integers(1, 4)), replace=False)]
            requests.append((rows, body(rows, f"r{index}")))
        before = (
            server.metric("modelplane_serving_batch_requests_count", **labels),
            server.metric("modelplane_serving_batch_requests_sum", **labels),
        )
        concurrent = asyncio.run(fire(server.url, "/v2/models/iris-batched/infer", [b for _, b in requests]))
        batches = server.metric("modelplane_serving_batch_requests_count", **labels) - before[0]
        merged_requests = server.metric("modelplane_serving_batch_requests_sum", **labels) - before[1]
        assert merged_requests == len(requests)
        with server.client() as client:
            for (rows, item), response in zip(requests, concurrent, strict=True):
                assert response.json()["id"] == item["id"]
                alone = outputs(client.post("/v2/models/iris-batched/infer", json=item))
                unbatched = outputs(client.post("/v2/models/iris/infer", json=item))
                got = outputs(response)
                assert got == alone  # bit-identical to the same request served alone
                assert got["label"]["data"] == unbatched["label"]["data"]
                np.testing.assert_allclose(
                    got["probabilities"]["data"], unbatched["probabilities"]["data"], rtol=1e-5, atol=1e-7
                )
                assert got["probabilities"]["shape"] == [len(rows), 3]
        if batches < len(requests):
            merged = True
            break
    assert merged, "no two concurrent requests were ever merged into one inference"
    assert server.metric("modelplane_serving_batch_rows_bucket", le="16.0", **labels) == server.metric(
        "modelplane_serving_batch_rows_count", **labels
    ), "a batch went past maxBatchSize"


def test_batched_rows_match_onnx_runtime_on_stacked_rows(server: Server, models: Models) -> None:
    """Every batched inference has two rows or more, whose results do not depend on their neighbours."""
    session = ort.InferenceSession(str(models.iris.path), providers=["CPUExecutionProvider"])
    stacked = session.run(None, {"X": models.iris_x})[1]
    with server.client() as client:
        for index in (0, 50, 149):
            got = outputs(
                client.post("/v2/models/iris-batched/infer", json=body(models.iris_x[index : index + 1], "x"))
            )
            np.testing.assert_array_equal(np.float32(got["probabilities"]["data"]), stacked[index])


def test_a_request_larger_than_max_batch_size_runs_alone(server: Server, models: Models) -> None:
    session = ort.InferenceSession(str(models.iris.path), providers=["CPUExecutionProvider"])
    with server.client() as client:
        got = outputs(client.post("/v2/models/iris-batched/infer", json=body(models.iris_x[:40], "big")))
    assert got["label"]["data"] == session.run(None, {"X": models.iris_x[:40]})[0].tolist()


def test_batching_is_off_without_a_dynamic_leading_dimension(server: Server) -> None:
    served = server.app.dataplane.repository.find("fixed", None)
    assert served.config.batching is not None
    assert served.batcher is None
    assert server.app.dataplane.repository.find("iris-batched", None).batcher is not None
    with server.client() as client:
        response = client.post(
            "/v2/models/fixed/infer",
            json={"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3, 4]}]},
        )
    assert outputs(response)["y"]["data"] == [-1.0, -2.0, -3.0, -4.0]


def make_batcher(models: Models, **batching: int) -> tuple[Batcher, OnnxModel, ServingMetrics]:
    model = OnnxModel("iris", "1", models.iris.path.read_bytes(), Runtime(intra_op_threads=1))
    metrics = ServingMetrics()
    batcher = Batcher(
        model, InferenceExecutor("iris", model.warm_up()), metrics.for_model("iris", "1"), Batching(**batching)
    )
    return batcher, model, metrics


async def test_a_lone_request_is_not_delayed(models: Models) -> None:
    batcher, _, _ = make_batcher(models, max_batch_size=32, max_latency_ms=1000)
    batcher.start()
    started = time.perf_counter()
    await batcher.submit({"X": models.iris_x[:1]})
    assert time.perf_counter() - started < 0.5
    await batcher.stop()


async def test_batch_waits_for_requests_still_arriving(models: Models) -> None:
    batcher, model, metrics = make_batcher(models, max_batch_size=32, max_latency_ms=1000)
    batcher.start()
    batcher.begin_receiving()  # a second request's body is on its way
    first = asyncio.ensure_future(batcher.submit({"X": models.iris_x[:2]}))
    await asyncio.sleep(0.05)
    assert not first.done()  # held for the arriving request
    batcher.end_receiving()
    second = await batcher.submit({"X": models.iris_x[2:3]})
    results = await first
    await batcher.stop()
    expected = model.run({"X": models.iris_x[:3]})
    np.testing.assert_array_equal(results[1], expected[1][:2])
    np.testing.assert_array_equal(second[1], expected[1][2:3])
    registry = metrics.registry
    assert registry.get_sample_value("modelplane_serving_batch_requests_sum", {"model": "iris", "version": "1"}) == 2
    assert registry.get_sample_value("modelplane_serving_batch_rows_sum", {"model": "iris", "version": "1"}) == 3


async def test_max_latency_bounds_the_wait(models: Models) -> None:
    batcher, _, _ = make_batcher(models, max_batch_size=32, max_latency_ms=30)
    batcher.start()
    batcher.begin_receiving()  # never arrives
    started = time.perf_counter()
    await batcher.submit({"X": models.iris_x[:1]})
    waited = time.perf_counter() - started
    batcher.end_receiving()
    await batcher.stop()
    assert 0.025 <= waited < 1.0


async def test_a_rejected_request_does_not_fail_its_batch(models: Models) -> None:
    batcher, _, _ = make_batcher(models, max_batch_size=32, max_latency_ms=0)
    batcher.start()
    good = asyncio.ensure_future(batcher.submit({"X": models.iris_x[:1]}))
    bad = asyncio.ensure_future(batcher.submit({"X": models.iris_x[:1].astype(np.float64)}))  # ORT refuses doubles
    results = await asyncio.gather(good, bad, return_exceptions=True)
    await batcher.stop()
    assert isinstance(results[0], list)
    assert "rejected the input" in str(results[1])


@pytest.mark.parametrize("rows", [1, 5])
async def test_stop_serves_what_is_queued(models: Models, rows: int) -> None:
    batcher, _, _ = make_batcher(models, max_batch_size=4, max_latency_ms=0)
    batcher.start()
    pending = [asyncio.ensure_future(batcher.submit({"X": models.iris_x[:rows]})) for _ in range(6)]
    await asyncio.sleep(0)
    await batcher.stop()
    assert all(len(item.result()[0]) == rows for item in pending)


async def test_requests_with_several_inputs_are_merged_when_their_rows_align(models: Models) -> None:
    model = OnnxModel("adder", "1", models.adder.path.read_bytes(), Runtime(intra_op_threads=1))
    metrics = ServingMetrics()
    batcher = Batcher(
        model, InferenceExecutor("adder", model.warm_up()), metrics.for_model("adder", "1"), Batching(max_latency_ms=0)
    )
    rng = np.random.default_rng(0)
    a, b = rng.random((5, 3), dtype=np.float32), rng.random((5, 3), dtype=np.float32)
    batcher.start()
    aligned = [asyncio.ensure_future(batcher.submit({"a": a[i : i + 2], "b": b[i : i + 2]})) for i in (0, 2)]
    misaligned = asyncio.ensure_future(batcher.submit({"a": a[4:5], "b": b[:2]}))  # ORT broadcasts 1 row over 2
    results = await asyncio.gather(*aligned, misaligned)
    await batcher.stop()
    for i, (total, product) in zip((0, 2), results[:2], strict=True):
        np.testing.assert_array_equal(total, a[i : i + 2] + b[i : i + 2])
        np.testing.assert_array_equal(product, a[i : i + 2] * b[i : i + 2])
    np.testing.assert_array_equal(results[2][0], a[4:5] + b[:2])  # ran alone: not stacked with the others
    labels = {"model": "adder", "version": "1"}
    assert metrics.registry.get_sample_value("modelplane_serving_batch_requests_sum", labels) == 2
    assert metrics.registry.get_sample_value("modelplane_serving_batch_requests_count", labels) == 1
