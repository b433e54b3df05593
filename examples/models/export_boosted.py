"""Export a gradient-boosted tree model (LightGBM or XGBoost) to ONNX for ModelPlane, and print what a
ModelVersion needs: sha256 and signature.

    python examples/models/export_boosted.py --framework lightgbm --output cancer-lgbm.onnx
    python examples/models/export_boosted.py --framework xgboost --output cancer-xgb.onnx

The model is a classifier fitted on scikit-learn's bundled breast-cancer data (no download) on a plain
float32 matrix (XGBoost then names the features ``f0``, ``f1``, ...), exported with onnxmltools: one input
``input`` (float32, ``[N, 30]``, a dynamic batch), a ``label`` (int64, ``[N]``; onnxmltools declares
LightGBM's as ``[1]``, corrected here) and a ``probabilities`` output (float32, ``[N, 2]``; LightGBM's
ZipMap off: the Open Inference Protocol carries plain tensors, not maps). ONNX Runtime must agree with the
framework before the file is written. Tree ensembles are ``ai.onnx.ml`` operators: leave ``spec.optimize``
out, dynamic quantization has nothing to shrink.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime
from onnx_summary import print_summary  # beside this script
from onnxmltools import convert_lightgbm, convert_xgboost
from onnxmltools.convert.common.data_types import FloatTensorType
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split

OPSET = 15  # the highest onnxmltools 1.16 converts to (17 is refused: "higher than the converter support")


def fit_and_convert(framework: str, x: np.ndarray, y: np.ndarray) -> tuple[Any, bytes]:
    """The fitted classifier and its ONNX bytes."""
    types = [("input", FloatTensorType([None, x.shape[1]]))]  # None: a dynamic batch dimension
    if framework == "lightgbm":
        from lightgbm import LGBMClassifier

        model: Any = LGBMClassifier(n_estimators=100, num_leaves=15, random_state=0, verbose=-1)
        model.fit(x, y)
        onnx_model = convert_lightgbm(model, initial_types=types, target_opset=OPSET, zipmap=False)
    else:
        from xgboost import XGBClassifier

        model = XGBClassifier(n_estimators=100, max_depth=4, random_state=0)
        model.fit(x, y)
        onnx_model = convert_xgboost(model, initial_types=types, target_opset=OPSET)
    for output in onnx_model.graph.output:
        # onnxmltools declares LightGBM's label as shape [1] although it has one row per input row: make the
        # first dimension of every output the batch, so the signature says -1 and ONNX Runtime stops warning.
        output.type.tensor_type.shape.dim[0].dim_param = "N"  # dim is a oneof: this clears dim_value
    return model, onnx_model.SerializeToString()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--framework", choices=("lightgbm", "xgboost"), default="lightgbm")
    parser.add_argument("--output", type=Path, default=None, help="where to write the model")
    args = parser.parse_args()
    output = args.output or Path(f"cancer-{args.framework}.onnx")

    x, y = load_breast_cancer(return_X_y=True)
    x = x.astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)
    model, data = fit_and_convert(args.framework, x_train, y_train)

    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    labels, probabilities = session.run(["label", "probabilities"], {"input": x_test})
    assert (labels == model.predict(x_test)).all(), f"ONNX Runtime disagrees with {args.framework}"
    assert np.allclose(probabilities, model.predict_proba(x_test), atol=1e-4)

    output.write_bytes(data)
    print_summary(output, data, session, float((labels == y_test).mean()))


if __name__ == "__main__":
    main()
