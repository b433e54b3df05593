"""Is it a model: the ONNX checker, an ONNX Runtime session, one inference and its latency.

Where it sits: after the artifact's sha256 is verified (:mod:`.source`) and before the signature
(:mod:`.signature`). Bytes that are not ONNX, a model whose weights live in external data files (an
artifact is one file), a graph the checker rejects, a model ONNX Runtime cannot
load (an operator or opset it lacks) and a model that fails on well-formed inputs are all
:class:`InvalidModel`, with the checker's or the runtime's first line of explanation.

Latency is the single-call latency of one row: the median of :data:`LATENCY_CALLS` calls after a warm-up,
in microseconds, on the CPU execution provider with ONNX Runtime's default threading.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from modelplane.jobs.errors import InvalidModel

logger = logging.getLogger(__name__)
PROVIDERS = ("CPUExecutionProvider",)
LATENCY_CALLS = 7
MESSAGE_LIMIT = 300


def check_onnx(path: Path) -> Any:
    """The parsed ONNX model, after the ONNX checker accepted it; InvalidModel otherwise."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as error:  # protobuf's DecodeError, and whatever else bad bytes provoke
        raise InvalidModel(f"the artifact is not an ONNX model: {first_line(error)}") from error
    if not model.graph.node and not model.graph.output:
        raise InvalidModel("the artifact is not an ONNX model: it parses as an empty graph")
    external = external_data_files(model)
    if external:
        raise InvalidModel(
            f"the model keeps its weights in external data files ({', '.join(external)}), and an artifact is one "
            "file: save it with every tensor inside (torch.onnx.export(..., external_data=False), or "
            "onnx.save_model(model, path, save_as_external_data=False)); one file holds up to 2 GiB"
        )
    try:
        onnx.checker.check_model(str(path))
    except Exception as error:  # ValidationError, and e.g. UnicodeDecodeError on damaged strings
        raise InvalidModel(f"the ONNX checker rejected the model: {first_line(error)}") from error
    return model


def external_data_files(model: Any) -> list[str]:
    """The files a model's tensors refer to (``data_location: EXTERNAL``), in its graphs and subgraphs."""
    import onnx

    found: set[str] = set()
    graphs = [model.graph]
    while graphs:
        graph = graphs.pop()
        tensors = [*graph.initializer, *(sparse.values for sparse in graph.sparse_initializer)]
        for node in graph.node:
            for attribute in node.attribute:
                tensors.extend(attribute.tensors)
                graphs.extend(attribute.graphs)
                if attribute.HasField("t"):
                    tensors.append(attribute.t)
                if attribute.HasField("g"):
                    graphs.append(attribute.g)
        for tensor in tensors:
            if tensor.data_location == onnx.TensorProto.EXTERNAL:
                found.update(entry.value for entry in tensor.external_data if entry.key == "location")
    return sorted(found)


def open_session(path: Path) -> Any:
    """An ONNX Runtime session of the model on the CPU; InvalidModel when the runtime cannot load it."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    try:
        return onnxruntime.InferenceSession(str(path), sess_options=options, providers=list(PROVIDERS))
    except Exception as error:  # ORT raises its own pybind classes (InvalidGraph, NotImplemented, Fail, ...)
        raise InvalidModel(f"ONNX Runtime cannot load the model: {first_line(error)}") from error


def run(session: Any, inputs: Mapping[str, Any]) -> list[Any]:
    """One inference; InvalidModel when the model fails on inputs of its own signature."""
    try:
        return list(session.run(None, dict(inputs)))
    except Exception as error:  # ORT raises its own pybind classes
        raise InvalidModel(f"ONNX Runtime failed to run the model on sample rows: {first_line(error)}") from error


def single_call_microseconds(session: Any, inputs: Mapping[str, Any]) -> int:
    """Median latency of one call on ``inputs`` (one row), in microseconds, after one warm-up call."""
    feed = dict(inputs)
    run(session, feed)
    timings = []
    for _ in range(LATENCY_CALLS):
        start = time.perf_counter_ns()
        session.run(None, feed)
        timings.append(time.perf_counter_ns() - start)
    return max(1, round(statistics.median(timings) / 1000))


def first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    first = lines[0] if lines else text
    return first[:MESSAGE_LIMIT]
