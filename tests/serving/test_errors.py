"""Bad requests get a 4xx whose message names the problem, never a 500, on every inference route."""

from __future__ import annotations

import gzip
from typing import Any

import orjson
import pytest

from .conftest import Server


def tensor(**overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"name": "X", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}
    item.update(overrides)
    return item


JSON_CASES: list[tuple[str, str, Any, int, str]] = [
    ("unknown model", "/v2/models/nope/infer", {"inputs": [tensor()]}, 404, "unknown model 'nope'"),
    ("unknown version", "/v2/models/iris/versions/9/infer", {"inputs": [tensor()]}, 404, "has no version '9'"),
    ("not an object", "/v2/models/iris/infer", [1, 2], 400, "must be a JSON object"),
    ("no inputs", "/v2/models/iris/infer", {"outputs": []}, 400, "'inputs' must be a non-empty list"),
    ("empty inputs", "/v2/models/iris/infer", {"inputs": []}, 400, "'inputs' must be a non-empty list"),
    ("input not an object", "/v2/models/iris/infer", {"inputs": [3]}, 400, "inputs[0] must be an object"),
    ("input without name", "/v2/models/iris/infer", {"inputs": [tensor(name=None)]}, 400, "needs a 'name'"),
    ("wrong tensor name", "/v2/models/iris/infer", {"inputs": [tensor(name="Y")]}, 400, "unknown input 'Y'"),
    (
        "missing input",
        "/v2/models/adder/infer",
        {"inputs": [tensor(name="a", shape=[1, 3], data=[1, 2, 3])]},
        400,
        "missing input 'b'",
    ),
    ("duplicate input", "/v2/models/iris/infer", {"inputs": [tensor(), tensor()]}, 400, "more than once"),
    (
        "unknown datatype",
        "/v2/models/iris/infer",
        {"inputs": [tensor(datatype="FP99")]},
        400,
        "unknown datatype 'FP99'",
    ),
    (
        "wrong datatype",
        "/v2/models/iris/infer",
        {"inputs": [tensor(datatype="FP64")]},
        400,
        "has datatype FP64, model 'iris' version '2' expects FP32",
    ),
    (
        "wrong shape",
        "/v2/models/iris/infer",
        {"inputs": [tensor(shape=[2, 2])]},
        400,
        "has shape [2, 2], model 'iris' version '2' expects [-1, 4]",
    ),
    ("wrong rank", "/v2/models/iris/infer", {"inputs": [tensor(shape=[4])]}, 400, "has shape [4]"),
    (
        "negative dimension",
        "/v2/models/iris/infer",
        {"inputs": [tensor(shape=[-1, 4])]},
        400,
        "list of non-negative integers",
    ),
    (
        "shape not a list",
        "/v2/models/iris/infer",
        {"inputs": [tensor(shape="1,4")]},
        400,
        "list of non-negative integers",
    ),
    (
        "too few elements",
        "/v2/models/iris/infer",
        {"inputs": [tensor(data=[1, 2, 3])]},
        400,
        "has 3 elements, its shape [1, 4] needs 4",
    ),
    (
        "too many elements",
        "/v2/models/iris/infer",
        {"inputs": [tensor(shape=[1, 4], data=[[1, 2, 3, 4], [5, 6, 7, 8]])]},
        400,
        "has 8 elements",
    ),
    (
        "ragged nested data",
        "/v2/models/iris/infer",
        {"inputs": [tensor(shape=[2, 4], data=[[1, 2, 3, 4], [5]])]},
        400,
        "data is not a list of FP32 values",
    ),
    (
        "strings for floats",
        "/v2/models/iris/infer",
        {"inputs": [tensor(data=["a", "b", "c", "d"])]},
        400,
        "data is not a list of FP32 values",
    ),
    ("data is an object", "/v2/models/iris/infer", {"inputs": [tensor(data={"x": 1})]}, 400, "'data' must be a list"),
    (
        "no data",
        "/v2/models/iris/infer",
        {"inputs": [{"name": "X", "shape": [1, 4], "datatype": "FP32"}]},
        400,
        "has no 'data'",
    ),
    (
        "floats for integers",
        "/v2/models/id-int32/infer",
        {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "INT32", "data": [1.5, 2]}]},
        400,
        "INT32 data must be integers",
    ),
    (
        "integer out of range",
        "/v2/models/id-uint8/infer",
        {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "UINT8", "data": [1, 300]}]},
        400,
        "outside the range of UINT8",
    ),
    (
        "numbers for BOOL",
        "/v2/models/id-bool/infer",
        {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "BOOL", "data": [1, 0]}]},
        400,
        "BOOL data must be true or false",
    ),
    (
        "numbers for BYTES",
        "/v2/models/id-bytes/infer",
        {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "BYTES", "data": [1, 2]}]},
        400,
        "BYTES data must be strings",
    ),
    (
        "unknown output",
        "/v2/models/iris/infer",
        {"inputs": [tensor()], "outputs": [{"name": "nope"}]},
        400,
        "unknown output 'nope'",
    ),
    (
        "outputs not a list",
        "/v2/models/iris/infer",
        {"inputs": [tensor()], "outputs": "label"},
        400,
        "'outputs' must be a list",
    ),
    (
        "parameters not an object",
        "/v2/models/iris/infer",
        {"inputs": [tensor()], "parameters": [1]},
        400,
        "'parameters' of the request must be an object",
    ),
    ("id not a string", "/v2/models/iris/infer", {"inputs": [tensor()], "id": 7}, 400, "'id' must be a string"),
    (
        "classification extension",
        "/v2/models/iris/infer",
        {"inputs": [tensor()], "outputs": [{"name": "label", "parameters": {"classification": 2}}]},
        400,
        "classification extension is not supported",
    ),
    (
        "fixed shape mismatch",
        "/v2/models/fixed/infer",
        {"inputs": [{"name": "x", "shape": [1, 2], "datatype": "FP32", "data": [1, 2]}]},
        400,
        "expects [2, 2]",
    ),
    ("v1 without instances", "/v1/models/iris:predict", {"rows": []}, 400, '{"instances": [...]}'),
    ("v1 wrong row width", "/v1/models/iris:predict", {"instances": [[1, 2, 3]]}, 400, "has shape [1, 3]"),
    ("v1 rows for several inputs", "/v1/models/adder:predict", {"instances": [[1, 2, 3]]}, 400, "several inputs"),
    (
        "v1 instance missing an input",
        "/v1/models/adder:predict",
        {"instances": [{"a": [1, 2, 3]}]},
        400,
        "no value for input 'b'",
    ),
    ("v1 unknown model", "/v1/models/nope:predict", {"instances": [[1, 2, 3, 4]]}, 404, "unknown model 'nope'"),
]


@pytest.mark.parametrize(
    ("path", "body", "status", "message"), [c[1:] for c in JSON_CASES], ids=[c[0] for c in JSON_CASES]
)
def test_bad_json_request(server: Server, path: str, body: Any, status: int, message: str) -> None:
    with server.client() as client:
        response = client.post(path, content=orjson.dumps(body), headers={"Content-Type": "application/json"})
    assert response.status_code == status, response.text
    assert message in response.json()["error"]


RAW_CASES: list[tuple[str, bytes, dict[str, str], int, str]] = [
    ("malformed JSON", b'{"inputs": [', {}, 400, "malformed JSON"),
    ("empty body", b"", {}, 400, "malformed JSON"),
    (
        "header length not a number",
        b"{}",
        {"Inference-Header-Content-Length": "x"},
        400,
        "Inference-Header-Content-Length must be a non-negative integer",
    ),
    ("header length past the body", b"{}", {"Inference-Header-Content-Length": "10"}, 400, "body has only 2 bytes"),
    ("unsupported content encoding", b"{}", {"Content-Encoding": "br"}, 400, "unsupported Content-Encoding 'br'"),
    ("corrupt gzip", b"not gzip", {"Content-Encoding": "gzip"}, 400, "is not valid gzip data"),
    ("truncated gzip", gzip.compress(b'{"inputs": []}')[:-8], {"Content-Encoding": "gzip"}, 400, "truncated gzip"),
]


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"), [c[1:] for c in RAW_CASES], ids=[c[0] for c in RAW_CASES]
)
def test_bad_raw_request(server: Server, body: bytes, headers: dict[str, str], status: int, message: str) -> None:
    with server.client() as client:
        response = client.post("/v2/models/iris/infer", content=body, headers=headers)
    assert response.status_code == status, response.text
    assert message in response.json()["error"]


def binary_request(inputs: list[dict[str, Any]], payload: bytes) -> tuple[bytes, dict[str, str]]:
    header = orjson.dumps({"inputs": inputs})
    return header + payload, {"Inference-Header-Content-Length": str(len(header))}


BINARY_CASES: list[tuple[str, str, list[dict[str, Any]], bytes, str]] = [
    (
        "size does not match the shape",
        "iris",
        [{"name": "X", "shape": [1, 4], "datatype": "FP32", "parameters": {"binary_data_size": 12}}],
        b"\0" * 12,
        "binary_data_size is 12 bytes, its shape [1, 4] of FP32 needs 16",
    ),
    (
        "size past the end",
        "iris",
        [{"name": "X", "shape": [1, 4], "datatype": "FP32", "parameters": {"binary_data_size": 16}}],
        b"\0" * 8,
        "runs past the end of the body",
    ),
    (
        "bytes nobody claims",
        "iris",
        [{"name": "X", "shape": [1, 4], "datatype": "FP32", "parameters": {"binary_data_size": 16}}],
        b"\0" * 20,
        "4 bytes of binary data follow the JSON header but no input claims them",
    ),
    (
        "data and binary size",
        "iris",
        [
            {
                "name": "X",
                "shape": [1, 4],
                "datatype": "FP32",
                "data": [1, 2, 3, 4],
                "parameters": {"binary_data_size": 16},
            }
        ],
        b"\0" * 16,
        "both 'data' and a binary_data_size",
    ),
    (
        "negative binary size",
        "iris",
        [{"name": "X", "shape": [1, 4], "datatype": "FP32", "parameters": {"binary_data_size": -1}}],
        b"",
        "binary_data_size must be a non-negative integer",
    ),
    (
        "truncated BYTES length",
        "id-bytes",
        [{"name": "x", "shape": [1, 2], "datatype": "BYTES", "parameters": {"binary_data_size": 2}}],
        b"\1\0",
        "truncated BYTES element length",
    ),
    (
        "BYTES element past its size",
        "id-bytes",
        [{"name": "x", "shape": [1, 2], "datatype": "BYTES", "parameters": {"binary_data_size": 5}}],
        b"\x09\0\0\0a",
        "runs past its binary_data_size",
    ),
    (
        "BYTES not UTF-8",
        "id-bytes",
        [{"name": "x", "shape": [1, 1], "datatype": "BYTES", "parameters": {"binary_data_size": 5}}],
        b"\1\0\0\0\xff",
        "not UTF-8",
    ),
    (
        "BYTES element count",
        "id-bytes",
        [{"name": "x", "shape": [1, 2], "datatype": "BYTES", "parameters": {"binary_data_size": 5}}],
        b"\1\0\0\0a",
        "has 1 elements, its shape [1, 2] needs 2",
    ),
]


@pytest.mark.parametrize(
    ("model", "inputs", "payload", "message"), [c[1:] for c in BINARY_CASES], ids=[c[0] for c in BINARY_CASES]
)
def test_bad_binary_request(
    server: Server, model: str, inputs: list[dict[str, Any]], payload: bytes, message: str
) -> None:
    body, headers = binary_request(inputs, payload)
    with server.client() as client:
        response = client.post(f"/v2/models/{model}/infer", content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert message in response.json()["error"]


def test_body_over_the_limit_is_413(models: Any) -> None:
    from .conftest import serve

    config = {"maxRequestBytes": 1024, "models": [models.iris.model("iris")]}
    with serve(config) as running, running.client() as client:
        response = client.post("/v2/models/iris/infer", content=b"[" + b"1," * 1000 + b"1]")
        chunked = client.post("/v2/models/iris/infer", content=iter([b"[", b"1," * 1000, b"1]"]))
    assert response.status_code == 413
    assert "exceeds 1024 bytes" in response.json()["error"]
    assert chunked.status_code == 413
    assert (
        running.metric("modelplane_serving_requests_total", model="iris", version="1", outcome="payload_too_large") == 2
    )


def test_errors_are_counted_and_never_500(server: Server) -> None:
    assert server.metric("modelplane_serving_requests_total", model="iris", version="2", outcome="error") == 0
    assert server.metric("modelplane_serving_requests_total", model="_unknown", version="", outcome="error") == 0
