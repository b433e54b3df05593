"""A third-party OIP v2 client, ``tritonclient[http]``, talks to the server unchanged."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import onnxruntime as ort
import pytest

from .conftest import Models, Server

httpclient = pytest.importorskip("tritonclient.http")


@pytest.fixture
def triton(server: Server) -> Iterator[object]:
    client = httpclient.InferenceServerClient(url=server.url.removeprefix("http://"))
    yield client
    client.close()


def test_health_and_metadata(triton: object) -> None:
    client = triton
    assert client.is_server_live()  # type: ignore[attr-defined]
    assert client.is_server_ready()  # type: ignore[attr-defined]
    assert client.is_model_ready("iris")  # type: ignore[attr-defined]
    assert client.is_model_ready("iris", model_version="1")  # type: ignore[attr-defined]
    assert not client.is_model_ready("nope")  # type: ignore[attr-defined]
    assert client.get_server_metadata()["name"] == "modelplane"  # type: ignore[attr-defined]
    metadata = client.get_model_metadata("iris")  # type: ignore[attr-defined]
    assert metadata["inputs"] == [{"name": "X", "datatype": "FP32", "shape": [-1, 4]}]
    index = client.get_model_repository_index()  # type: ignore[attr-defined]
    assert {"name": "iris", "version": "1", "state": "READY", "reason": ""} in index


@pytest.mark.parametrize("binary", [True, False])
def test_infer(triton: object, models: Models, binary: bool) -> None:
    rows = models.iris_x[:5]
    expected = ort.InferenceSession(str(models.iris.path), providers=["CPUExecutionProvider"]).run(None, {"X": rows})
    inputs = [httpclient.InferInput("X", list(rows.shape), "FP32")]
    inputs[0].set_data_from_numpy(rows, binary_data=binary)
    outputs = [
        httpclient.InferRequestedOutput("probabilities", binary_data=binary),
        httpclient.InferRequestedOutput("label", binary_data=binary),
    ]
    result = triton.infer("iris", inputs, outputs=outputs, request_id="t1", model_version="1")  # type: ignore[attr-defined]
    assert result.get_response()["id"] == "t1"
    np.testing.assert_array_equal(result.as_numpy("label"), expected[0])
    np.testing.assert_allclose(result.as_numpy("probabilities"), expected[1], rtol=1e-6)


def test_infer_bytes_and_errors(triton: object) -> None:
    data = np.array([["a", "bé"], ["", "z"]], dtype=object)
    inputs = [httpclient.InferInput("x", [2, 2], "BYTES")]
    inputs[0].set_data_from_numpy(data, binary_data=True)
    result = triton.infer("id-bytes", inputs)  # type: ignore[attr-defined]
    assert result.as_numpy("y").tolist() == [[b"a", "bé".encode()], [b"", b"z"]]

    from tritonclient.utils import InferenceServerException

    wrong = [httpclient.InferInput("X", [1, 4], "FP64")]
    wrong[0].set_data_from_numpy(np.zeros((1, 4)), binary_data=True)
    with pytest.raises(InferenceServerException, match="has datatype FP64, model 'iris' version '2' expects FP32"):
        triton.infer("iris", wrong)  # type: ignore[attr-defined]
