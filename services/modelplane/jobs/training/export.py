"""ONNX export of a fitted estimator with skl2onnx, checked against scikit-learn in ONNX Runtime.

The model has one input ``input`` (float32, ``[N, features]``); a classifier's outputs are ``label``
and ``probabilities`` (ZipMap off, so both are plain tensors), a regressor's is ``variable``. Opsets are
pinned and the graph is named after the estimator, so the same fitted model always serialises to the
same bytes. Metadata properties record features, target, task, estimator and dataset digest.

The parity check runs the ONNX model on the validation rows: labels must equal scikit-learn's (except
where scikit-learn's two top probabilities tie within float32 precision), probabilities and regression
outputs must agree to 1e-4 relative to their scale.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from modelplane.jobs.errors import TrainingFailed

logger = logging.getLogger(__name__)
TARGET_OPSET = {"": 17, "ai.onnx.ml": 3}
INPUT_NAME = "input"
TOLERANCE = 1e-4


def to_onnx(model: Any, n_features: int, *, classifier: bool, metadata: Mapping[str, Any]) -> bytes:
    """The serialised ONNX model of ``model``."""
    import onnx
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    options = {id(model): {"zipmap": False}} if classifier else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            proto = convert_sklearn(
                model,
                name=type(model).__name__,
                initial_types=[(INPUT_NAME, FloatTensorType([None, n_features]))],
                options=options,
                target_opset=TARGET_OPSET,
            )
        except Exception as error:  # skl2onnx raises many kinds; the first line says what failed
            first_line = str(error).splitlines()[0][:300] if str(error) else type(error).__name__
            raise TrainingFailed(f"ONNX export of {type(model).__name__} failed: {first_line}") from error
    for warning in caught:
        logger.warning("ONNX export warned: %s.", warning.message, extra={"category": warning.category.__name__})
    for key, value in sorted(metadata.items()):
        entry = proto.metadata_props.add()
        entry.key, entry.value = f"modelplane.{key}", value if isinstance(value, str) else json.dumps(value)
    onnx.checker.check_model(proto)
    data: bytes = proto.SerializeToString()
    return data


def check_parity(model: Any, onnx_model: bytes, x: npt.NDArray[np.float32], *, classifier: bool) -> None:
    """Raise TrainingFailed when ONNX Runtime's predictions on ``x`` differ from scikit-learn's."""
    import onnxruntime

    if len(x) == 0:
        return
    session = onnxruntime.InferenceSession(onnx_model, providers=["CPUExecutionProvider"])
    outputs = session.run(None, {INPUT_NAME: x})
    expected = model.predict(x)
    if not classifier:
        got = np.asarray(outputs[0], dtype=np.float64).ravel()
        scale = max(1.0, float(np.max(np.abs(expected))))
        worst = float(np.max(np.abs(got - expected)))
        if worst > TOLERANCE * scale:
            raise TrainingFailed(f"ONNX predictions differ from scikit-learn's by up to {worst:.3g}")
        return
    labels = np.asarray(outputs[0]).ravel()
    mismatched = labels.astype(str) != np.asarray(expected).astype(str)
    proba = model.predict_proba(x) if hasattr(model, "predict_proba") and len(outputs) > 1 else None
    if mismatched.any() and proba is not None:
        top2 = np.sort(proba, axis=1)[:, -2:]
        mismatched &= (top2[:, 1] - top2[:, 0]) > TOLERANCE  # ties may break either way in float32
    if mismatched.any():
        raise TrainingFailed(f"ONNX labels differ from scikit-learn's on {int(mismatched.sum())} of {len(x)} rows")
    if proba is not None:
        worst = float(np.max(np.abs(np.asarray(outputs[1], dtype=np.float64) - proba)))
        if worst > TOLERANCE:
            raise TrainingFailed(f"ONNX probabilities differ from scikit-learn's by up to {worst:.3g}")
