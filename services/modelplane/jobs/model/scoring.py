"""The model's predictions on the evaluation split, scored with the standard metrics.

Where it sits: after :mod:`.data` has turned the split into inputs; its metrics feed the gates
(:mod:`.gates`) and the quantization delta (:mod:`.optimize`). The metric code is the built-in
trainer's (:func:`modelplane.jobs.training.evaluation.evaluate`), so a gate reads the same numbers a
TrainingRun logged: classification ``accuracy``, ``f1``, ``precision``, ``recall`` (macro), with class
probabilities ``roc_auc`` and ``log_loss``; regression ``rmse``, ``mae``, ``r2``.

The task is the model's ``modelplane.task`` metadata when present; otherwise a model with a label
output (integer, text or boolean) or with only a ``[N, C]`` (C > 1) float output is a classifier, one
with a single float output per row a regressor. A classifier's labels are its label output, else the
argmax of its probabilities; the probability columns' classes come from the graph's classifier node
(``classlabels_*``), else from which label each column's argmax produced.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from modelplane.apis.v1alpha1.model_version import Signature, TensorSpec
from modelplane.apis.v1alpha1.training_run import Task
from modelplane.jobs.errors import InvalidSpec
from modelplane.jobs.model import check
from modelplane.jobs.training.data import Frame
from modelplane.jobs.training.evaluation import evaluate

TASK_METADATA = "modelplane.task"
FLOAT_DATATYPES = frozenset({"FP16", "FP32", "FP64"})
BATCH_ROWS = 8192
PRIMARY_METRIC = {Task.CLASSIFICATION: "accuracy", Task.REGRESSION: "r2"}
"""The metric an optimized artifact's delta is measured on (a drop in it is what maxAccuracyDrop bounds)."""


@dataclass(frozen=True)
class Predictions:
    """What the model said about the split: labels (or values), and class probabilities when it has them."""

    task: Task
    values: npt.NDArray[Any]
    probabilities: npt.NDArray[Any] | None = None
    classes: npt.NDArray[Any] | None = None


class _Scored:
    """The predictions behind the scikit-learn estimator interface :func:`evaluate` reads."""

    def __init__(self, predictions: Predictions) -> None:
        self._predictions = predictions
        probabilities = predictions.probabilities
        if probabilities is not None and predictions.classes is not None:
            self.classes_ = predictions.classes
            self.predict_proba: Callable[[Any], npt.NDArray[Any]] = lambda _x: probabilities

    def predict(self, _x: Any) -> npt.NDArray[Any]:
        return self._predictions.values


def infer_task(signature: Signature, metadata: Mapping[str, str]) -> Task:
    """Classification or Regression, from the metadata or the outputs (see the module docstring)."""
    declared = metadata.get(TASK_METADATA)
    if declared in (Task.CLASSIFICATION.value, Task.REGRESSION.value):
        return Task(declared)
    outputs = signature.outputs
    if any(t.datatype.value not in FLOAT_DATATYPES for t in outputs):
        return Task.CLASSIFICATION
    if len(outputs) == 1 and len(outputs[0].shape) == 2 and outputs[0].shape[1] > 1:
        return Task.CLASSIFICATION
    return Task.REGRESSION


def predict(
    session: Any, model: Any, signature: Signature, inputs: Mapping[str, npt.NDArray[Any]], task: Task
) -> Predictions:
    """Run the model over every row (in batches when its inputs' first dimension is dynamic)."""
    outputs = _run_batched(session, signature, inputs)
    by_name = dict(zip((t.name for t in signature.outputs), outputs, strict=True))
    if task == Task.REGRESSION:
        tensor = next((t for t in signature.outputs if t.datatype.value in FLOAT_DATATYPES), None)
        if tensor is None:
            raise InvalidSpec("a regression model needs a float output; this model has none")
        return Predictions(task, np.asarray(by_name[tensor.name], dtype=np.float64).reshape(len(outputs[0]), -1)[:, 0])
    label = _label_output(signature.outputs)
    proba_spec = _probability_output(signature.outputs)
    probabilities = None if proba_spec is None else np.asarray(by_name[proba_spec.name], dtype=np.float64)
    if label is not None:
        values = np.asarray(by_name[label.name]).ravel()
    elif probabilities is not None:
        values = np.argmax(probabilities, axis=1).astype(np.int64)
    else:
        raise InvalidSpec("a classifier needs a label or a [N, classes] probability output; this model has neither")
    classes = None
    if probabilities is not None:
        classes = _graph_classes(model, probabilities.shape[1]) or _observed_classes(values, probabilities)
    return Predictions(task, values, probabilities, None if classes is None else np.asarray(classes))


def score(predictions: Predictions, target: npt.NDArray[Any]) -> dict[str, float]:
    """The standard metrics of ``predictions`` against ``target``."""
    y = _comparable_target(predictions, target)
    frame = Frame(np.zeros((len(y), 0), dtype=np.float32), y)
    return evaluate(_Scored(predictions), frame, predictions.task)


def _run_batched(session: Any, signature: Signature, inputs: Mapping[str, npt.NDArray[Any]]) -> list[npt.NDArray[Any]]:
    rows = len(next(iter(inputs.values())))
    batchable = all(t.shape and t.shape[0] == -1 for t in signature.inputs)
    if not batchable or rows <= BATCH_ROWS:
        return check.run(session, inputs)
    parts: list[list[npt.NDArray[Any]]] = []
    for start in range(0, rows, BATCH_ROWS):
        parts.append(check.run(session, {k: v[start : start + BATCH_ROWS] for k, v in inputs.items()}))
    return [np.concatenate([part[i] for part in parts]) for i in range(len(parts[0]))]


def _label_output(outputs: Sequence[TensorSpec]) -> TensorSpec | None:
    return next((t for t in outputs if t.datatype.value not in FLOAT_DATATYPES and len(t.shape) <= 2), None)


def _probability_output(outputs: Sequence[TensorSpec]) -> TensorSpec | None:
    return next((t for t in outputs if t.datatype.value in FLOAT_DATATYPES and len(t.shape) == 2), None)


def _graph_classes(model: Any, width: int) -> list[Any] | None:
    """Class labels of the graph's classifier node (ai.onnx.ml), when it has ``width`` of them."""
    for node in model.graph.node:
        if not node.op_type.endswith("Classifier"):
            continue
        for attribute in node.attribute:
            if attribute.name == "classlabels_strings" and len(attribute.strings) == width:
                return [s.decode() for s in attribute.strings]
            if attribute.name == "classlabels_int64s" and len(attribute.ints) == width:
                return list(attribute.ints)
    return None


def _observed_classes(values: npt.NDArray[Any], probabilities: npt.NDArray[Any]) -> list[Any] | None:
    """Each probability column's class, read off the rows: the label predicted where that column is largest."""
    top = np.argmax(probabilities, axis=1)
    classes: list[Any] = []
    for column in range(probabilities.shape[1]):
        labels = {v.item() if hasattr(v, "item") else v for v in values[top == column]}
        if len(labels) != 1:
            return None
        classes.append(labels.pop())
    return classes if len(set(classes)) == len(classes) else None


def _comparable_target(predictions: Predictions, target: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """The target in the predictions' type: floats for regression, the labels' type for classification."""
    if predictions.task == Task.REGRESSION:
        if target.dtype == object:
            raise InvalidSpec("a regression model cannot be scored against a text target")
        return target.astype(np.float64)
    values = predictions.values
    if values.dtype == object or values.dtype.kind in "US":
        return np.asarray([str(v) for v in target], dtype=object)
    if target.dtype == object:
        raise InvalidSpec("the target holds text labels, but the model predicts numbers")
    if target.dtype.kind == "f" and not np.all(np.floor(target) == target):
        raise InvalidSpec("the target holds fractional values, but the model predicts class labels")
    return target.astype(values.dtype if values.dtype.kind in "iub" else np.int64)
