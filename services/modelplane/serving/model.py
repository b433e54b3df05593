"""One loaded ONNX model: its ONNX Runtime session, its v2 signature, and the checks a request must pass.

Where it sits: built by the repository from verified artifact bytes (in a worker thread); the dataplane
binds each request's tensors to it (:meth:`OnnxModel.bind`: names, datatypes, shapes) before the tensors
reach ONNX Runtime, so a bad request is a 400 that names the problem, not an ORT stack trace.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from modelplane.apis.v1alpha1.inference_service import GraphOptimizationLevel
from modelplane.serving.config import Runtime
from modelplane.serving.datatypes import NUMPY_DTYPES, ONNX_DATATYPES
from modelplane.serving.errors import ArtifactError, InvalidInput
from modelplane.serving.inference import RequestedOutput, RequestInput, Tensor

logger = logging.getLogger(__name__)

PLATFORM = "onnxruntime_onnx"
"""The ``platform`` of model metadata (Triton's name for ONNX Runtime models)."""


@dataclass(frozen=True, slots=True)
class TensorSpec:
    """An input or output of the model: v2 datatype and shape (-1 for a dimension of any size, None: any rank)."""

    name: str
    datatype: str
    shape: tuple[int, ...] | None

    def fits(self, shape: tuple[int, ...]) -> bool:
        """Whether a tensor of ``shape`` is acceptable here."""
        want = self.shape
        if want is None:
            return True
        if len(shape) != len(want):
            return False
        for expected, got in zip(want, shape, strict=True):  # noqa: SIM110 (a loop beats all() on the hot path)
            if expected not in (got, -1):
                return False
        return True

    def describe_shape(self) -> str:
        """The shape as the error messages show it."""
        return "any" if self.shape is None else str(list(self.shape))


def build_session_options(runtime: Runtime) -> Any:
    """ONNX Runtime session options from the ``runtime`` config."""
    import onnxruntime as ort

    levels = {
        GraphOptimizationLevel.DISABLED: ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        GraphOptimizationLevel.BASIC: ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        GraphOptimizationLevel.EXTENDED: ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        GraphOptimizationLevel.ALL: ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }
    options = ort.SessionOptions()
    options.graph_optimization_level = levels[runtime.graph_optimization_level]
    if runtime.intra_op_threads is not None:
        options.intra_op_num_threads = runtime.intra_op_threads
    if runtime.inter_op_threads is not None:
        options.inter_op_num_threads = runtime.inter_op_threads
        if runtime.inter_op_threads > 1:
            options.execution_mode = ort.ExecutionMode.ORT_PARALLEL
    spin = "1" if runtime.allow_spinning else "0"
    options.add_session_config_entry("session.intra_op.allow_spinning", spin)
    options.add_session_config_entry("session.inter_op.allow_spinning", spin)
    options.log_severity_level = 3
    return options


class OnnxModel:
    """An ONNX Runtime session with its v2 signature. ``run`` is thread-safe (ORT sessions are)."""

    def __init__(self, name: str, version: str, artifact: bytes, runtime: Runtime) -> None:
        import onnxruntime as ort

        self.name = name
        self.version = version
        missing = [p for p in runtime.providers if p not in ort.get_available_providers()]
        if missing:
            raise ArtifactError(
                f"execution provider(s) {missing} not available in this ONNX Runtime "
                f"(available: {ort.get_available_providers()})"
            )
        try:
            self._session = ort.InferenceSession(
                artifact, sess_options=build_session_options(runtime), providers=list(runtime.providers)
            )
        except Exception as exc:  # ORT raises its own pybind classes (InvalidProtobuf, Fail, ...)
            raise ArtifactError(f"ONNX Runtime cannot load the model: {exc}") from exc
        self.inputs = tuple(_spec(arg, "input") for arg in self._session.get_inputs())
        self.outputs = tuple(_spec(arg, "output") for arg in self._session.get_outputs())
        self.output_names = [spec.name for spec in self.outputs]
        self._inputs_by_name = {spec.name: spec for spec in self.inputs}
        self._outputs_by_name = {spec.name: spec for spec in self.outputs}
        self.output_datatypes = {spec.name: spec.datatype for spec in self.outputs}
        self._every_output = {
            binary: [RequestedOutput(name, binary) for name in self.output_names] for binary in (False, True)
        }
        self.batchable = all(spec.shape and spec.shape[0] == -1 for spec in (*self.inputs, *self.outputs))
        """Every input and output has a leading dimension of any size: requests can be stacked on it."""
        from onnxruntime.capi import onnxruntime_pybind11_state as ort_state

        self._input_errors: tuple[type[Exception], ...] = (
            ort_state.InvalidArgument,
            ort_state.Fail,
            ort_state.RuntimeException,
        )

    @property
    def label(self) -> str:
        """``model 'name' version 'v'`` for messages."""
        return f"model '{self.name}' version '{self.version}'"

    def bind(self, inputs: Sequence[RequestInput]) -> dict[str, Tensor]:
        """The request's tensors by input name, once every input is present and fits the signature."""
        feeds: dict[str, Tensor] = {}
        for item in inputs:
            spec = self._inputs_by_name.get(item.name)
            if spec is None:
                expected = ", ".join(f"'{s.name}'" for s in self.inputs)
                raise InvalidInput(f"unknown input '{item.name}' for {self.label}: it expects {expected}")
            if item.name in feeds:
                raise InvalidInput(f"input '{item.name}' is given more than once")
            if item.datatype != spec.datatype:
                raise InvalidInput(
                    f"input '{item.name}' has datatype {item.datatype}, {self.label} expects {spec.datatype}"
                )
            if not spec.fits(item.shape):
                raise InvalidInput(
                    f"input '{item.name}' has shape {list(item.shape)}, {self.label} expects "
                    f"{spec.describe_shape()} (-1: any size)"
                )
            feeds[item.name] = item.data
        if len(feeds) != len(self.inputs):
            missing = ", ".join(f"'{s.name}'" for s in self.inputs if s.name not in feeds)
            raise InvalidInput(f"missing input {missing} for {self.label}")
        return feeds

    def select_outputs(
        self, requested: Sequence[RequestedOutput] | None, binary_default: bool
    ) -> list[RequestedOutput]:
        """The outputs to return, in the requested order (every output when none are named)."""
        if requested is None:
            return self._every_output[binary_default]
        seen: set[str] = set()
        for item in requested:
            if item.name not in self._outputs_by_name:
                expected = ", ".join(f"'{name}'" for name in self.output_names)
                raise InvalidInput(f"unknown output '{item.name}' for {self.label}: it has {expected}")
            if item.name in seen:
                raise InvalidInput(f"output '{item.name}' is requested more than once")
            seen.add(item.name)
        return list(requested)

    def run(self, feeds: dict[str, Tensor], output_names: list[str] | None = None) -> list[Tensor]:
        """Run the session; an input ONNX Runtime rejects is an :class:`InvalidInput`."""
        try:
            outputs: list[Tensor] = self._session.run(output_names or self.output_names, feeds)
        except self._input_errors as exc:
            raise InvalidInput(f"{self.label} rejected the input: {exc}") from exc
        return outputs

    def warm_up(self) -> float | None:
        """Run once on zeros (dimensions of any size as 1); the seconds it took, or None if the model refused."""
        feeds: dict[str, Tensor] = {}
        for spec in self.inputs:
            shape = tuple(1 if dim == -1 else dim for dim in spec.shape or (1,))
            dtype = NUMPY_DTYPES[spec.datatype]
            feeds[spec.name] = np.full(shape, "", dtype=object) if spec.datatype == "BYTES" else np.zeros(shape, dtype)
        started = time.perf_counter()
        try:
            self._session.run(self.output_names, feeds)
        except Exception as exc:  # a model may need real data; warming up is best effort
            logger.debug("Skipped the warm-up of %s: %s", self.label, exc)
            return None
        return time.perf_counter() - started


def _spec(arg: Any, kind: str) -> TensorSpec:
    datatype = ONNX_DATATYPES.get(arg.type)
    if datatype is None:
        raise ArtifactError(
            f"{kind} '{arg.name}' has type {arg.type}, which the Open Inference Protocol cannot carry "
            "(convert sklearn classifiers with zipmap disabled)"
        )
    shape = None if arg.shape is None else tuple(dim if isinstance(dim, int) and dim >= 0 else -1 for dim in arg.shape)
    return TensorSpec(arg.name, datatype, shape)
