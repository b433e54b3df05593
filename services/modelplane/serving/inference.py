"""The typed inference request and response the dataplane works on, whatever the wire protocol.

Where it sits: a protocol adapter (the REST codec, the v1 ``instances`` adapter, a future gRPC one)
decodes the wire format into an :class:`InferenceRequest` whose tensors are numpy arrays already shaped,
the dataplane checks them against the model and answers an :class:`InferenceResponse`, and the adapter
encodes it back. Plain slotted dataclasses rather than pydantic models: the tensors can be megabytes and
are checked once, by the codec and the model signature, not walked again by a validator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy.typing as npt

Tensor = npt.NDArray[Any]


@dataclass(slots=True)
class RequestInput:
    """One input tensor: its v2 datatype, its shape and its data (a numpy array of that shape)."""

    name: str
    datatype: str
    shape: tuple[int, ...]
    data: Tensor


@dataclass(slots=True)
class RequestedOutput:
    """An output the client asked for, and whether it wants it as binary data."""

    name: str
    binary: bool = False


@dataclass(slots=True)
class InferenceRequest:
    """A decoded inference request. ``outputs`` None means every output of the model."""

    inputs: list[RequestInput]
    outputs: list[RequestedOutput] | None = None
    id: str | None = None
    parameters: dict[str, Any] = field(default_factory=dict)
    binary_outputs: bool = False
    """Default for outputs not listed in ``outputs`` (the ``binary_data_output`` request parameter)."""


@dataclass(slots=True)
class ResponseOutput:
    """One output tensor of a response."""

    name: str
    datatype: str
    data: Tensor
    binary: bool = False


@dataclass(slots=True)
class InferenceResponse:
    """The answer to an :class:`InferenceRequest`."""

    model_name: str
    model_version: str
    outputs: list[ResponseOutput]
    id: str | None = None


def element_count(shape: tuple[int, ...] | list[int]) -> int:
    """Elements in a tensor of this shape (1 for a scalar)."""
    count = 1
    for dim in shape:
        count *= dim
    return count
