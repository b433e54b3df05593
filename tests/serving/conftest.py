"""Serving tier fixtures: small real ONNX models and a real uvicorn server on 127.0.0.1.

Models are built once per session: scikit-learn classifiers converted with skl2onnx (zipmap off), and
``onnx.helper`` graphs for datatype coverage (Identity per datatype), several inputs, fixed shapes.
:func:`serve` runs the server's ASGI application under uvicorn in a thread, on a socket bound to port 0
(no port race), and stops it (graceful shutdown, lifespan included) when the block exits.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import onnx
import pytest
import uvicorn
from onnx import TensorProto, helper

from modelplane.serving.config import ServingConfig, parse_config
from modelplane.serving.rest.app import ServingApp, build_app

DTYPES: dict[str, int] = {
    "BOOL": TensorProto.BOOL,
    "UINT8": TensorProto.UINT8,
    "UINT16": TensorProto.UINT16,
    "UINT32": TensorProto.UINT32,
    "UINT64": TensorProto.UINT64,
    "INT8": TensorProto.INT8,
    "INT16": TensorProto.INT16,
    "INT32": TensorProto.INT32,
    "INT64": TensorProto.INT64,
    "FP16": TensorProto.FLOAT16,
    "FP32": TensorProto.FLOAT,
    "FP64": TensorProto.DOUBLE,
    "BYTES": TensorProto.STRING,
}


@dataclass(frozen=True)
class Artifact:
    """An ONNX file and its digest."""

    path: Path
    sha256: str

    def model(self, name: str, **extra: Any) -> dict[str, Any]:
        """A config entry serving this artifact."""
        return {"name": name, "uri": str(self.path), "sha256": self.sha256, **extra}


def _save(model: onnx.ModelProto, path: Path) -> Artifact:
    data = model.SerializeToString()
    path.write_bytes(data)
    return Artifact(path, hashlib.sha256(data).hexdigest())


def _graph_model(nodes: list[onnx.NodeProto], inputs: list[Any], outputs: list[Any], name: str) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, name, inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


@dataclass(frozen=True)
class Models:
    """Every artifact the serving tests use, and the data they were trained on."""

    iris: Artifact
    cancer: Artifact
    identity: dict[str, Artifact]
    adder: Artifact
    fixed: Artifact
    zipmap: Artifact
    iris_x: np.ndarray
    cancer_x: np.ndarray


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    """Build the test models once."""
    from skl2onnx import to_onnx
    from sklearn.datasets import load_breast_cancer, load_iris
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    root = tmp_path_factory.mktemp("models")
    iris_x, iris_y = load_iris(return_X_y=True)
    iris_x = iris_x.astype(np.float32)
    iris_clf = LogisticRegression(max_iter=500).fit(iris_x, iris_y)
    iris = _save(to_onnx(iris_clf, iris_x[:1], options={"zipmap": False}, target_opset=17), root / "iris.onnx")
    zipmap = _save(to_onnx(iris_clf, iris_x[:1], target_opset=17), root / "iris-zipmap.onnx")
    cancer_x, cancer_y = load_breast_cancer(return_X_y=True)
    cancer_x = cancer_x.astype(np.float32)
    tree = DecisionTreeClassifier(max_depth=5, random_state=0).fit(cancer_x, cancer_y)
    cancer = _save(to_onnx(tree, cancer_x[:1], options={"zipmap": False}, target_opset=17), root / "cancer.onnx")

    identity = {}
    for datatype, onnx_type in DTYPES.items():
        x = helper.make_tensor_value_info("x", onnx_type, ["batch", 2])
        y = helper.make_tensor_value_info("y", onnx_type, ["batch", 2])
        node = helper.make_node("Identity", ["x"], ["y"])
        identity[datatype] = _save(_graph_model([node], [x], [y], f"identity_{datatype}"), root / f"id-{datatype}.onnx")

    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, ["batch", 3])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, ["batch", 3])
    total = helper.make_tensor_value_info("sum", TensorProto.FLOAT, ["batch", 3])
    product = helper.make_tensor_value_info("product", TensorProto.FLOAT, ["batch", 3])
    adder = _save(
        _graph_model(
            [helper.make_node("Add", ["a", "b"], ["sum"]), helper.make_node("Mul", ["a", "b"], ["product"])],
            [a, b],
            [total, product],
            "adder",
        ),
        root / "adder.onnx",
    )
    fx = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2])
    fy = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2])
    fixed = _save(_graph_model([helper.make_node("Neg", ["x"], ["y"])], [fx], [fy], "fixed"), root / "fixed.onnx")
    return Models(iris, cancer, identity, adder, fixed, zipmap, iris_x, cancer_x)


class Server:
    """A running server: its base URL and its application (for white-box checks)."""

    def __init__(self, app: ServingApp, url: str) -> None:
        self.app = app
        self.url = url

    def client(self, **kwargs: Any) -> httpx.Client:
        """An HTTP client for the server."""
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)

    def metric(self, name: str, **labels: str) -> float:
        """The current value of one sample in the server's registry (0 when absent)."""
        value = self.app.dataplane.metrics.registry.get_sample_value(name, labels)
        return 0.0 if value is None else value


@contextlib.contextmanager
def serve(
    config: ServingConfig | dict[str, Any],
    *,
    wait_loaded: bool = True,
    api_only: bool = False,
    freeze_gc: bool = False,
) -> Iterator[Server]:
    """Run the server for ``config`` under uvicorn on 127.0.0.1 in a thread.

    ``api_only`` serves the FastAPI application without the lean inference layer in front of it.
    ``freeze_gc`` is off: the test process is not the server's own (``test_dataplane.py`` covers it).
    """
    if isinstance(config, dict):
        config = parse_config(config)
    app = build_app(config, freeze_gc=freeze_gc)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            app.api if api_only else app,
            lifespan="on",
            log_level="warning",
            access_log=False,
            ws="none",
            log_config=None,
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="serving-test-uvicorn")
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started or (wait_loaded and not app.dataplane.repository.settled):
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start and load its models")
            time.sleep(0.01)
        yield Server(app, f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


@pytest.fixture(scope="module")
def server(models: Models, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server with every test model: iris (also batched and as version 2), cancer, adder, fixed, identities."""
    config = {
        "cacheDir": str(tmp_path_factory.mktemp("cache")),
        "models": [
            models.iris.model("iris", version="1"),
            models.iris.model("iris", version="2"),
            models.iris.model("iris-batched", batching={"maxBatchSize": 16, "maxLatencyMs": 2}),
            models.cancer.model("cancer"),
            models.adder.model("adder"),
            models.fixed.model("fixed", batching={"maxBatchSize": 8}),
            *(artifact.model(f"id-{datatype.lower()}") for datatype, artifact in models.identity.items()),
        ],
    }
    with serve(config) as running:
        yield running


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test of this folder is in the serving tier (real uvicorn, ONNX Runtime and HTTP)."""
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.serving)
