"""OIP v2 REST bodies to and from the dataplane's typed request and response, JSON and binary.

Where it sits: the inference handler calls :func:`decode_request` on a body and :func:`encode_response`
on the dataplane's answer. JSON is parsed with orjson; tensors become numpy arrays in one conversion each
(no per-element Python walk for numbers) and are checked for what the body alone can tell: datatype
names, shapes, element counts, value ranges. The model signature is checked later, by the dataplane.

The binary tensor extension: with an ``Inference-Header-Content-Length: N`` header the first N bytes are
the JSON header and the rest holds the tensors whose ``parameters.binary_data_size`` is set, in input
order, little-endian, row-major (BYTES elements as a 4-byte little-endian length then the bytes). Binary
inputs are read in place (``np.frombuffer``), without a copy. Outputs are binary when the request sets
``binary_data`` on the output or ``binary_data_output`` on the request.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import orjson

from modelplane.serving.datatypes import FLOAT_DATATYPES, INTEGER_DATATYPES, NUMPY_DTYPES
from modelplane.serving.errors import InvalidInput
from modelplane.serving.inference import (
    InferenceRequest,
    InferenceResponse,
    RequestedOutput,
    RequestInput,
    ResponseOutput,
    Tensor,
    element_count,
)

JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY
_DATATYPE_LIST = ", ".join(NUMPY_DTYPES)
_LENGTH = struct.Struct("<I")


def loads(body: bytes) -> Any:
    """Parse JSON; malformed JSON is an :class:`InvalidInput`."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"malformed JSON: {exc}") from exc


def decode_request(body: bytes, header_length: int | None = None) -> InferenceRequest:
    """An OIP v2 inference request body (JSON, or JSON header + binary tensors) as an :class:`InferenceRequest`."""
    if header_length is None:
        document = loads(body)
        offset = len(body)
    else:
        if header_length > len(body):
            raise InvalidInput(
                f"Inference-Header-Content-Length is {header_length} but the body has only {len(body)} bytes"
            )
        document = loads(body[:header_length])
        offset = header_length
    if not isinstance(document, dict):
        raise InvalidInput("the request body must be a JSON object with an 'inputs' list")
    raw_inputs = document.get("inputs")
    if not isinstance(raw_inputs, list) or not raw_inputs:
        raise InvalidInput("'inputs' must be a non-empty list of tensors")
    inputs: list[RequestInput] = []
    for index, raw in enumerate(raw_inputs):
        item, offset = _decode_input(raw, index, body, offset)
        inputs.append(item)
    if offset != len(body):
        raise InvalidInput(f"{len(body) - offset} bytes of binary data follow the JSON header but no input claims them")
    parameters = _parameters(document.get("parameters"), "the request")
    binary_outputs = parameters.get("binary_data_output", False)
    if not isinstance(binary_outputs, bool):
        raise InvalidInput("parameter 'binary_data_output' must be true or false")
    request_id = document.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise InvalidInput("'id' must be a string")
    return InferenceRequest(
        inputs=inputs,
        outputs=_decode_outputs(document.get("outputs"), binary_outputs),
        id=request_id,
        parameters=parameters,
        binary_outputs=binary_outputs,
    )


def json_array(name: str, datatype: str, data: Any) -> Tensor:
    """JSON ``data`` (flat or nested lists) as an array of ``datatype``, in the shape of its nesting."""
    dtype = NUMPY_DTYPES[datatype]
    try:
        if datatype in FLOAT_DATATYPES:
            return np.array(data, dtype=dtype)
        if datatype in INTEGER_DATATYPES:
            return _integer_array(name, datatype, data)
        if datatype == "BOOL":
            array = np.array(data)
            if array.dtype != np.bool_ and array.size:
                raise InvalidInput(f"input '{name}': BOOL data must be true or false")
            return array.astype(np.bool_, copy=False)
        return _string_array(name, data)
    except (ValueError, TypeError, OverflowError) as exc:
        raise InvalidInput(f"input '{name}': data is not a list of {datatype} values ({exc})") from exc


def encode_response(response: InferenceResponse) -> tuple[bytes, int | None]:
    """The response body and, when some outputs are binary, the length of its JSON header."""
    outputs: list[dict[str, Any]] = []
    chunks: list[bytes] = []
    for output in response.outputs:
        data = output.data
        entry: dict[str, Any] = {"name": output.name, "datatype": output.datatype, "shape": data.shape}
        if output.binary:
            raw = tensor_bytes(output)
            entry["parameters"] = {"binary_data_size": len(raw)}
            chunks.append(raw)
        else:
            entry["data"] = json_data(output)
        outputs.append(entry)
    document: dict[str, Any] = {
        "model_name": response.model_name,
        "model_version": response.model_version,
        "outputs": outputs,
    }
    if response.id is not None:
        document["id"] = response.id
    header = orjson.dumps(document, option=JSON_OPTIONS)
    if not chunks:
        return header, None
    return b"".join((header, *chunks)), len(header)


def json_data(output: ResponseOutput) -> Any:
    """An output's data as something orjson writes as a flat JSON list."""
    data = output.data
    if data.dtype == np.object_:
        return [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in data.reshape(-1).tolist()]
    return np.ascontiguousarray(data).reshape(-1)


def tensor_bytes(output: ResponseOutput) -> bytes:
    """An output's data in the binary tensor format."""
    data = output.data
    if data.dtype == np.object_:
        parts: list[bytes] = []
        for value in data.reshape(-1).tolist():
            raw = value if isinstance(value, bytes) else str(value).encode("utf-8")
            parts.append(_LENGTH.pack(len(raw)))
            parts.append(raw)
        return b"".join(parts)
    return np.ascontiguousarray(data, dtype=data.dtype.newbyteorder("<")).tobytes()


def _parameters(raw: Any, where: str) -> dict[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise InvalidInput(f"'parameters' of {where} must be an object")
    return raw


def _decode_input(raw: Any, index: int, body: bytes, offset: int) -> tuple[RequestInput, int]:
    if not isinstance(raw, dict):
        raise InvalidInput(f"inputs[{index}] must be an object with name, datatype, shape and data")
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"inputs[{index}] needs a 'name' string")
    datatype = raw.get("datatype")
    if not isinstance(datatype, str) or datatype not in NUMPY_DTYPES:
        raise InvalidInput(f"input '{name}' has unknown datatype {datatype!r} (one of {_DATATYPE_LIST})")
    raw_shape = raw.get("shape")
    if not isinstance(raw_shape, list) or not all(
        isinstance(dim, int) and not isinstance(dim, bool) and dim >= 0 for dim in raw_shape
    ):
        raise InvalidInput(f"input '{name}': 'shape' must be a list of non-negative integers")
    shape = tuple(raw_shape)
    parameters = _parameters(raw.get("parameters"), f"input '{name}'")
    size = parameters.get("binary_data_size")
    if size is not None:
        if "data" in raw:
            raise InvalidInput(f"input '{name}' has both 'data' and a binary_data_size parameter")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InvalidInput(f"input '{name}': binary_data_size must be a non-negative integer")
        if offset + size > len(body):
            raise InvalidInput(
                f"input '{name}': binary_data_size {size} runs past the end of the body "
                f"({len(body) - offset} bytes of binary data left)"
            )
        return RequestInput(
            name, datatype, shape, _binary_array(name, datatype, shape, body, offset, size)
        ), offset + size
    if "data" not in raw:
        raise InvalidInput(f"input '{name}' has no 'data' (nor a binary_data_size parameter)")
    data = raw["data"]
    count = element_count(shape)
    if not isinstance(data, list):
        if isinstance(data, dict) or count != 1:
            raise InvalidInput(f"input '{name}': 'data' must be a list")
        data = [data]
    array = json_array(name, datatype, data)
    if array.size != count:
        raise InvalidInput(f"input '{name}' has {array.size} elements, its shape {list(shape)} needs {count}")
    return RequestInput(name, datatype, shape, array.reshape(shape)), offset


def _decode_outputs(raw: Any, binary_default: bool) -> list[RequestedOutput] | None:
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise InvalidInput("'outputs' must be a list")
    outputs: list[RequestedOutput] = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise InvalidInput(f"outputs[{index}] must be an object with a 'name' string")
        name: str = item["name"]
        parameters = _parameters(item.get("parameters"), f"output '{name}'")
        if parameters.get("classification"):
            raise InvalidInput(f"output '{name}': the classification extension is not supported")
        binary = parameters.get("binary_data", binary_default)
        if not isinstance(binary, bool):
            raise InvalidInput(f"output '{name}': parameter 'binary_data' must be true or false")
        outputs.append(RequestedOutput(name, binary))
    return outputs


def _integer_array(name: str, datatype: str, data: Any) -> Tensor:
    dtype = NUMPY_DTYPES[datatype]
    array = np.array(data)
    if array.size == 0:
        return array.astype(dtype)
    if array.dtype.kind not in "iu":
        # integers past int64 (UINT64's upper half) make numpy infer float64 or object: check them exactly
        exact = np.array(data, dtype=np.object_)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in exact.reshape(-1)):
            raise InvalidInput(f"input '{name}': {datatype} data must be integers")
        array = exact
    info = np.iinfo(dtype)  # type: ignore[type-var]
    if array.min() < info.min or array.max() > info.max:
        raise InvalidInput(f"input '{name}': a value is outside the range of {datatype} [{info.min}, {info.max}]")
    return array.astype(dtype, copy=False)


def _string_array(name: str, data: Any) -> Tensor:
    array = np.array(data, dtype=np.object_)
    for value in array.reshape(-1):
        if not isinstance(value, str):
            raise InvalidInput(f"input '{name}': BYTES data must be strings (or nested lists of strings)")
    return array


def _binary_array(name: str, datatype: str, shape: tuple[int, ...], body: bytes, offset: int, size: int) -> Tensor:
    count = element_count(shape)
    if datatype == "BYTES":
        values = _unpack_strings(name, body, offset, size)
        if len(values) != count:
            raise InvalidInput(f"input '{name}' has {len(values)} elements, its shape {list(shape)} needs {count}")
        array = np.empty(count, dtype=np.object_)
        array[:] = values
        return array.reshape(shape)
    dtype = NUMPY_DTYPES[datatype].newbyteorder("<")
    if size != count * dtype.itemsize:
        raise InvalidInput(
            f"input '{name}': binary_data_size is {size} bytes, its shape {list(shape)} of {datatype} needs "
            f"{count * dtype.itemsize}"
        )
    return np.frombuffer(body, dtype=dtype, count=count, offset=offset).reshape(shape)


def _unpack_strings(name: str, body: bytes, offset: int, size: int) -> list[str]:
    values: list[str] = []
    position, end = offset, offset + size
    while position < end:
        if position + 4 > end:
            raise InvalidInput(f"input '{name}': truncated BYTES element length")
        (length,) = _LENGTH.unpack_from(body, position)
        position += 4
        if position + length > end:
            raise InvalidInput(f"input '{name}': a BYTES element runs past its binary_data_size")
        try:
            values.append(body[position : position + length].decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise InvalidInput(f"input '{name}': a BYTES element is not UTF-8 (ONNX strings are UTF-8)") from exc
        position += length
    return values
