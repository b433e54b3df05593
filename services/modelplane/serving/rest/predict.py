"""The ``{"instances": [...]}`` convenience protocol for tabular models (``POST /v1/models/{name}:predict``).

Where it sits: a second decoder/encoder pair beside :mod:`modelplane.serving.rest.codec`, feeding the same
dataplane (so batching, metrics and payload logging apply). Rows are typed by the model's signature, the
way TensorFlow Serving's and KServe's v1 row format works:

* a model with one input takes ``{"instances": [[5.1, 3.5, 1.4, 0.2], ...]}`` (one row per instance);
* a model with several inputs takes ``{"instances": [{"a": [...], "b": [...]}, ...]}``.

The answer is ``{"predictions": [...]}``: one value per instance for a single-output model, an object
keyed by output name per instance otherwise (e.g. ``{"label": 0, "probabilities": [0.98, 0.02, 0.0]}``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson

from modelplane.serving.errors import InvalidInput
from modelplane.serving.inference import InferenceRequest, InferenceResponse, RequestInput
from modelplane.serving.repository import ServedModel
from modelplane.serving.rest.codec import JSON_OPTIONS, json_array, loads


def decode_instances(body: bytes, served: ServedModel) -> InferenceRequest:
    """A v1 predict body as an :class:`InferenceRequest` for ``served``'s inputs."""
    model, _ = served.ready_model()
    document = loads(body)
    instances = document.get("instances") if isinstance(document, dict) else None
    if not isinstance(instances, list) or not instances:
        raise InvalidInput('the body must be {"instances": [...]} with at least one instance')
    if all(isinstance(instance, dict) for instance in instances):
        columns: dict[str, list[Any]] = {}
        for spec in model.inputs:
            try:
                columns[spec.name] = [instance[spec.name] for instance in instances]
            except KeyError:
                raise InvalidInput(f"an instance has no value for input '{spec.name}'") from None
        unknown = {key for instance in instances for key in instance} - set(columns)
        if unknown:
            raise InvalidInput(f"unknown input(s) {sorted(unknown)} for {served.label}")
    elif len(model.inputs) == 1:
        columns = {model.inputs[0].name: instances}
    else:
        names = ", ".join(f"'{spec.name}'" for spec in model.inputs)
        raise InvalidInput(f"{served.label} has several inputs ({names}): send instances as objects keyed by input")
    inputs = []
    for spec in model.inputs:
        array = json_array(spec.name, spec.datatype, columns[spec.name])
        inputs.append(RequestInput(spec.name, spec.datatype, array.shape, array))
    return InferenceRequest(inputs=inputs)


def encode_predictions(response: InferenceResponse) -> tuple[bytes, None]:
    """``{"predictions": [...]}`` for a response."""
    outputs = response.outputs
    if len(outputs) == 1:
        predictions: Any = _rows(outputs[0].data)
    else:
        rows = {output.data.shape[0] if output.data.ndim else -1 for output in outputs}
        if len(rows) != 1 or -1 in rows:
            raise InvalidInput("the model's outputs do not have one row per instance: use the v2 infer endpoint")
        columns = [(output.name, output.data.tolist()) for output in outputs]
        predictions = [{name: values[i] for name, values in columns} for i in range(rows.pop())]
    return orjson.dumps({"predictions": predictions}, option=JSON_OPTIONS), None


def _rows(data: Any) -> Any:
    """Data orjson writes as nested lists (numpy arrays directly; strings and scalars as Python values)."""
    if data.dtype == np.object_ or data.ndim == 0:
        return data.tolist()
    return np.ascontiguousarray(data)
