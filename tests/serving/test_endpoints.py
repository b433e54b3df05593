"""Every endpoint of a real server over real HTTP: health, metadata, readiness, index, metrics, inference."""

from __future__ import annotations

import gzip
import struct
from collections.abc import Iterator

import numpy as np
import onnxruntime as ort
import orjson

from .conftest import Models, Server, serve

IRIS_ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]


def expected_iris(models: Models, rows: list[list[float]]) -> list[np.ndarray]:
    session = ort.InferenceSession(str(models.iris.path), providers=["CPUExecutionProvider"])
    return session.run(None, {"X": np.asarray(rows, dtype=np.float32)})


def infer_body(rows: list[list[float]], **extra: object) -> dict[str, object]:
    flat = [value for row in rows for value in row]
    return {"inputs": [{"name": "X", "shape": [len(rows), 4], "datatype": "FP32", "data": flat}], **extra}


def test_health_live_and_ready(server: Server) -> None:
    with server.client() as client:
        assert client.get("/v2/health/live").json() == {"live": True}
        ready = client.get("/v2/health/ready")
    assert ready.status_code == 200
    body = ready.json()
    assert body["ready"] is True
    assert {(m["name"], m["version"], m["state"]) for m in body["models"]} >= {("iris", "1", "READY")}


def test_server_metadata(server: Server) -> None:
    with server.client() as client:
        body = client.get("/v2").json()
    assert body["name"] == "modelplane"
    assert body["version"]
    assert "binary_tensor_data" in body["extensions"]


def test_model_metadata_from_the_onnx_session(server: Server) -> None:
    with server.client() as client:
        default = client.get("/v2/models/iris").json()
        versioned = client.get("/v2/models/iris/versions/1").json()
    assert default == {
        "name": "iris",
        "versions": ["1", "2"],
        "platform": "onnxruntime_onnx",
        "inputs": [{"name": "X", "datatype": "FP32", "shape": [-1, 4]}],
        "outputs": [
            {"name": "label", "datatype": "INT64", "shape": [-1]},
            {"name": "probabilities", "datatype": "FP32", "shape": [-1, 3]},
        ],
    }
    assert versioned == default


def test_model_ready(server: Server) -> None:
    with server.client() as client:
        assert client.get("/v2/models/iris/ready").json() == {"name": "iris", "version": "2", "ready": True}
        assert client.get("/v2/models/iris/versions/1/ready").json() == {"name": "iris", "version": "1", "ready": True}


def test_repository_index(server: Server) -> None:
    with server.client() as client:
        empty = client.post("/v2/repository/index").json()
        ready_only = client.post("/v2/repository/index", json={"ready": True}).json()
    assert {"name": "iris", "version": "1", "state": "READY", "reason": ""} in empty
    assert empty == ready_only


def test_infer_json_matches_onnx_runtime(server: Server, models: Models) -> None:
    label, probabilities = expected_iris(models, IRIS_ROWS)
    with server.client() as client:
        response = client.post("/v2/models/iris/infer", json=infer_body(IRIS_ROWS, id="req-1"))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["model_name"] == "iris"
    assert body["model_version"] == "2"
    assert body["id"] == "req-1"
    outputs = {output["name"]: output for output in body["outputs"]}
    assert outputs["label"] == {"name": "label", "datatype": "INT64", "shape": [2], "data": label.tolist()}
    assert outputs["probabilities"]["shape"] == [2, 3]
    np.testing.assert_array_equal(np.asarray(outputs["probabilities"]["data"], dtype=np.float32), probabilities.ravel())


def test_infer_versioned_route_and_nested_data(server: Server) -> None:
    body = {"inputs": [{"name": "X", "shape": [2, 4], "datatype": "FP32", "data": IRIS_ROWS}]}
    with server.client() as client:
        nested = client.post("/v2/models/iris/versions/1/infer", json=body).json()
        flat = client.post("/v2/models/iris/versions/1/infer", json=infer_body(IRIS_ROWS)).json()
    assert nested["model_version"] == "1"
    assert nested["outputs"] == flat["outputs"]


def test_requested_outputs_and_parameters(server: Server) -> None:
    body = infer_body(IRIS_ROWS, outputs=[{"name": "label"}], parameters={"custom": "kept"})
    with server.client() as client:
        response = client.post("/v2/models/iris/infer", json=body).json()
    assert [output["name"] for output in response["outputs"]] == ["label"]


def test_binary_tensor_extension(server: Server, models: Models) -> None:
    label, probabilities = expected_iris(models, IRIS_ROWS)
    raw = np.asarray(IRIS_ROWS, dtype=np.float32).tobytes()
    header = orjson.dumps(
        {
            "inputs": [
                {"name": "X", "shape": [2, 4], "datatype": "FP32", "parameters": {"binary_data_size": len(raw)}}
            ],
            "outputs": [{"name": "probabilities", "parameters": {"binary_data": True}}, {"name": "label"}],
        }
    )
    with server.client() as client:
        response = client.post(
            "/v2/models/iris/infer",
            content=header + raw,
            headers={"Inference-Header-Content-Length": str(len(header)), "Content-Type": "application/octet-stream"},
        )
    assert response.status_code == 200, response.text
    length = int(response.headers["inference-header-content-length"])
    document = orjson.loads(response.content[:length])
    probs, labels = document["outputs"]
    assert probs["parameters"]["binary_data_size"] == probabilities.nbytes
    assert "data" not in probs
    assert labels["data"] == label.tolist()
    np.testing.assert_array_equal(np.frombuffer(response.content[length:], dtype="<f4").reshape(2, 3), probabilities)


def test_binary_data_output_request_parameter(server: Server) -> None:
    with server.client() as client:
        response = client.post(
            "/v2/models/iris/infer", json=infer_body(IRIS_ROWS, parameters={"binary_data_output": True})
        )
    length = int(response.headers["inference-header-content-length"])
    outputs = orjson.loads(response.content[:length])["outputs"]
    sizes = [output["parameters"]["binary_data_size"] for output in outputs]
    assert sizes == [2 * 8, 2 * 3 * 4]
    assert len(response.content) == length + sum(sizes)
    labels = struct.unpack("<2q", response.content[length : length + 16])
    assert len(labels) == 2


def test_gzip_request_body(server: Server) -> None:
    with server.client() as client:
        response = client.post(
            "/v2/models/iris/infer",
            content=gzip.compress(orjson.dumps(infer_body(IRIS_ROWS))),
            headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
        )
    assert response.status_code == 200, response.text


def test_several_inputs_and_outputs(server: Server) -> None:
    body = {
        "inputs": [
            {"name": "b", "shape": [1, 3], "datatype": "FP32", "data": [1, 2, 3]},
            {"name": "a", "shape": [1, 3], "datatype": "FP32", "data": [10, 20, 30]},
        ]
    }
    with server.client() as client:
        outputs = client.post("/v2/models/adder/infer", json=body).json()["outputs"]
    assert outputs[0] == {"name": "sum", "datatype": "FP32", "shape": [1, 3], "data": [11.0, 22.0, 33.0]}
    assert outputs[1]["data"] == [10.0, 40.0, 90.0]


def test_v1_predict_instances(server: Server, models: Models) -> None:
    label, probabilities = expected_iris(models, IRIS_ROWS)
    with server.client() as client:
        response = client.post("/v1/models/iris:predict", json={"instances": IRIS_ROWS})
        single = client.post("/v1/models/fixed:predict", json={"instances": [[1, 2], [3, 4]]})
        keyed = client.post(
            "/v1/models/adder:predict",
            json={"instances": [{"a": [1, 2, 3], "b": [1, 1, 1]}, {"a": [0, 0, 0], "b": [2, 2, 2]}]},
        )
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert [p["label"] for p in predictions] == label.tolist()
    np.testing.assert_allclose([p["probabilities"] for p in predictions], probabilities, rtol=1e-6)
    assert single.json() == {"predictions": [[-1.0, -2.0], [-3.0, -4.0]]}
    assert keyed.json()["predictions"][0] == {"sum": [2.0, 3.0, 4.0], "product": [1.0, 2.0, 3.0]}


def test_metrics_endpoint(server: Server) -> None:
    with server.client() as client:
        assert (
            client.post(
                "/v2/models/cancer/infer",
                json={"inputs": [{"name": "X", "shape": [1, 30], "datatype": "FP32", "data": [0.0] * 30}]},
            ).status_code
            == 200
        )
        assert client.post("/v2/models/cancer/infer", json={"inputs": []}).status_code == 400
        text = client.get("/metrics").text
    for name in (
        'modelplane_serving_requests_total{model="cancer",outcome="success",version="1"} 1.0',
        'modelplane_serving_requests_total{model="cancer",outcome="invalid_input",version="1"} 1.0',
        "modelplane_serving_request_duration_seconds_bucket",
        "modelplane_serving_queue_duration_seconds_bucket",
        "modelplane_serving_inference_duration_seconds_bucket",
        "modelplane_serving_batch_rows_bucket",
        "modelplane_serving_batch_requests_bucket",
        'modelplane_serving_model_ready{model="cancer",version="1"} 1.0',
        'modelplane_serving_payload_records_total{result="dropped"} 0.0',
    ):
        assert name in text, name
    loaded = len(server.app.dataplane.config.models)
    assert f"modelplane_serving_models_loaded {float(loaded)}" in text
    assert server.metric("modelplane_serving_inference_duration_seconds_count", model="cancer", version="1") == 1


def test_openapi_documents_every_route(server: Server) -> None:
    with server.client() as client:
        paths = client.get("/openapi.json").json()["paths"]
    assert {
        "/v2/health/live",
        "/v2/health/ready",
        "/v2",
        "/v2/models/{model_name}",
        "/v2/models/{model_name}/versions/{model_version}",
        "/v2/models/{model_name}/ready",
        "/v2/models/{model_name}/infer",
        "/v2/models/{model_name}/versions/{model_version}/infer",
        "/v2/repository/index",
        "/v1/models/{model_name}:predict",
    } <= set(paths)
    request_schema = paths["/v2/models/{model_name}/infer"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]
    assert "inputs" in request_schema["properties"]


def test_fastapi_routes_alone_serve_inference_too(models: Models) -> None:
    """The FastAPI application without the lean layer answers the same (same handler)."""
    with serve({"models": [models.iris.model("iris")]}, api_only=True) as running, running.client() as client:
        ok = client.post("/v2/models/iris/infer", json=infer_body(IRIS_ROWS))
        bad = client.post("/v2/models/iris/infer", content=b"{nope")
        v1 = client.post("/v1/models/iris:predict", json={"instances": IRIS_ROWS})
        missing = client.post("/v2/models/nope/versions/3/infer", json=infer_body(IRIS_ROWS))
    assert ok.status_code == 200
    assert [o["name"] for o in ok.json()["outputs"]] == ["label", "probabilities"]
    assert bad.status_code == 400
    assert bad.json()["error"].startswith("malformed JSON")
    assert v1.status_code == 200
    assert missing.status_code == 404


def test_unknown_route_is_a_json_404(server: Server) -> None:
    with server.client() as client:
        response = client.get("/v2/nothing/here")
    assert response.status_code == 404
    assert response.json() == {"error": "Not Found"}


def test_inflight_requests_gauge_counts_requests_being_served(server: Server) -> None:
    """The gauge a Concurrency autoscaler reads: 1 while a request's body is still arriving, 0 after."""
    import json
    import threading
    import time

    body = json.dumps({"inputs": [{"name": "X", "shape": [1, 30], "datatype": "FP32", "data": [0.0] * 30}]}).encode()
    release = threading.Event()

    def slow_body() -> Iterator[bytes]:
        yield body[:10]
        release.wait(10)
        yield body[10:]

    outcome: dict[str, int] = {}

    def send() -> None:
        with server.client() as client:
            outcome["status"] = client.post("/v2/models/cancer/infer", content=slow_body()).status_code

    sender = threading.Thread(target=send)
    sender.start()
    deadline = time.monotonic() + 10
    while server.metric("modelplane_serving_inflight_requests") < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.metric("modelplane_serving_inflight_requests") == 1
    release.set()
    sender.join(10)
    assert outcome["status"] == 200
    assert server.metric("modelplane_serving_inflight_requests") == 0
