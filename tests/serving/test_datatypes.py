"""Every v2 datatype ONNX Runtime supports, through an Identity model, as JSON and as binary tensors."""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import orjson
import pytest

from modelplane.serving.datatypes import NUMPY_DTYPES

from .conftest import DTYPES, Server

VALUES: dict[str, list[Any]] = {
    "BOOL": [True, False, False, True],
    "UINT8": [0, 1, 254, 255],
    "UINT16": [0, 1, 65534, 65535],
    "UINT32": [0, 1, 2**32 - 2, 2**32 - 1],
    "UINT64": [0, 1, 2**63, 2**64 - 1],
    "INT8": [-128, -1, 0, 127],
    "INT16": [-32768, -1, 0, 32767],
    "INT32": [-(2**31), -1, 0, 2**31 - 1],
    "INT64": [-(2**63), -1, 0, 2**63 - 1],
    "FP16": [-1.5, 0.0, 0.5, 65504.0],
    "FP32": [-1.5, 0.0, 0.1, 3.4028234663852886e38],
    "FP64": [-1.5, 0.0, 0.1, 1.7976931348623157e308],
    "BYTES": ["", "ascii", "üñíçødé", "a\nb"],
}


def test_every_datatype_has_a_model() -> None:
    assert set(VALUES) == set(DTYPES) == set(NUMPY_DTYPES)


@pytest.mark.parametrize("datatype", list(VALUES))
def test_json_round_trip(server: Server, datatype: str) -> None:
    body = {"inputs": [{"name": "x", "shape": [2, 2], "datatype": datatype, "data": VALUES[datatype]}]}
    with server.client() as client:
        metadata = client.get(f"/v2/models/id-{datatype.lower()}").json()
        response = client.post(f"/v2/models/id-{datatype.lower()}/infer", json=body)
    assert metadata["inputs"] == [{"name": "x", "datatype": datatype, "shape": [-1, 2]}]
    assert response.status_code == 200, response.text
    (output,) = response.json()["outputs"]
    assert output["datatype"] == datatype
    assert output["shape"] == [2, 2]
    if datatype == "FP32":
        np.testing.assert_array_equal(np.asarray(output["data"], dtype=np.float32), np.float32(VALUES[datatype]))
    else:
        assert output["data"] == VALUES[datatype]


def pack(datatype: str, values: list[Any]) -> bytes:
    if datatype == "BYTES":
        return b"".join(struct.pack("<I", len(v.encode())) + v.encode() for v in values)
    return np.asarray(values, dtype=NUMPY_DTYPES[datatype]).astype(NUMPY_DTYPES[datatype].newbyteorder("<")).tobytes()


@pytest.mark.parametrize("datatype", list(VALUES))
def test_binary_round_trip(server: Server, datatype: str) -> None:
    raw = pack(datatype, VALUES[datatype])
    header = orjson.dumps(
        {
            "inputs": [
                {"name": "x", "shape": [2, 2], "datatype": datatype, "parameters": {"binary_data_size": len(raw)}}
            ],
            "parameters": {"binary_data_output": True},
        }
    )
    with server.client() as client:
        response = client.post(
            f"/v2/models/id-{datatype.lower()}/infer",
            content=header + raw,
            headers={"Inference-Header-Content-Length": str(len(header))},
        )
    assert response.status_code == 200, response.text
    length = int(response.headers["inference-header-content-length"])
    (output,) = orjson.loads(response.content[:length])["outputs"]
    assert output["parameters"] == {"binary_data_size": len(raw)}
    assert response.content[length:] == raw
