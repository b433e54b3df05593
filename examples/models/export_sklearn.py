"""Export a scikit-learn model to ONNX for ModelPlane, and print what a ModelVersion needs: sha256 and signature.

    python examples/models/export_sklearn.py --output cancer-mlp.onnx
    aws s3 cp cancer-mlp.onnx s3://models/cancer/cancer-mlp.onnx      # or any HTTP(S) server
    # paste the printed sha256 into examples/models/import-external.yaml, then
    kubectl apply -f examples/models/import-external.yaml

The model is a small neural network (scaler + MLP) fitted on scikit-learn's bundled breast-cancer data
(no download), exported with skl2onnx: one input ``input`` (float32, ``[N, 30]``), a label and a
probability output (ZipMap off: the Open Inference Protocol carries plain tensors, not maps). ONNX Runtime
must agree with scikit-learn before the file is written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnxruntime
from onnx_summary import print_summary  # beside this script
from skl2onnx import convert_sklearn
from skl2onnx.common.data_types import FloatTensorType
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

OPSETS = {"": 17, "ai.onnx.ml": 3}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("cancer-mlp.onnx"), help="where to write the model")
    args = parser.parse_args()

    x, y = load_breast_cancer(return_X_y=True)
    x = x.astype(np.float32)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.2, random_state=0, stratify=y)
    model = make_pipeline(StandardScaler(), MLPClassifier((128, 64), max_iter=500, random_state=0))
    model.fit(x_train, y_train)

    onnx_model = convert_sklearn(
        model,
        initial_types=[("input", FloatTensorType([None, x.shape[1]]))],  # None: a dynamic batch dimension
        options={MLPClassifier: {"zipmap": False}},
        target_opset=OPSETS,
    )
    data = onnx_model.SerializeToString()

    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    labels, probabilities = session.run(None, {"input": x_test})
    assert (labels == model.predict(x_test)).all(), "ONNX Runtime disagrees with scikit-learn"
    assert np.allclose(probabilities, model.predict_proba(x_test), atol=1e-4)

    args.output.write_bytes(data)
    print_summary(args.output, data, session, float((labels == y_test).mean()))


if __name__ == "__main__":
    main()
