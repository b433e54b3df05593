"""The benchmark's models and request bodies: trained here, converted to ONNX, saved in the work directory.

Where it sits: ``run.py`` calls :func:`build` once before any server starts. Every server loads the same
two ``.onnx`` files and every client sends the same bodies, so the only thing that differs between
systems is the server. The models are scikit-learn classifiers converted with skl2onnx (``zipmap`` off,
so both outputs are plain tensors the Open Inference Protocol can carry):

* ``iris``: LogisticRegression on iris (4 features), outputs ``label`` (INT64) and ``probabilities`` (FP32);
* ``cancer``: a 100-tree RandomForest on breast cancer (30 features), same outputs.

Bodies are OIP v2 JSON with the rows of the dataset as they are (short decimals, no float32 round trip),
a pool of :data:`POOL` different bodies per (model, rows) so that servers do not see one byte string.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

INPUT = "X"
OUTPUTS = ("label", "probabilities")
POOL = 16  # distinct bodies per (model, rows), sent round-robin
SEED = 0


@dataclass(frozen=True)
class BenchModel:
    """One served model: its file, digest, and the rows its bodies are made of."""

    name: str
    title: str
    path: Path
    sha256: str
    features: int
    rows: np.ndarray  # float64, the dataset's rows (bodies use these values)

    def body_rows(self, batch: int, index: int) -> np.ndarray:
        """The rows of body ``index`` of a pool at ``batch`` rows per request."""
        start = (index * batch) % (len(self.rows) - batch)
        return self.rows[start : start + batch]

    def body(self, batch: int, index: int) -> bytes:
        """An OIP v2 JSON inference request for :meth:`body_rows`."""
        rows = self.body_rows(batch, index)
        tensor = {"name": INPUT, "shape": [batch, self.features], "datatype": "FP32", "data": rows.tolist()}
        return json.dumps({"inputs": [tensor]}, separators=(",", ":")).encode()

    def bodies(self, batch: int) -> list[bytes]:
        return [self.body(batch, index) for index in range(POOL)]


def _convert(estimator: Any, features: int) -> bytes:
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import FloatTensorType

    options = {id(estimator): {"zipmap": False}}
    onnx_model = to_onnx(estimator, initial_types=[(INPUT, FloatTensorType([None, features]))], options=options)
    data: bytes = onnx_model.SerializeToString()
    return data


def build(workdir: Path) -> list[BenchModel]:
    """Train both models, write their ONNX files under ``workdir``; the models with their data."""
    from sklearn.datasets import load_breast_cancer, load_iris
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    made = []
    for name, title, loader, estimator in (
        ("iris", "LogisticRegression, iris (4 features)", load_iris, LogisticRegression(max_iter=1000)),
        (
            "cancer",
            "RandomForest 100 trees, breast cancer (30 features)",
            load_breast_cancer,
            RandomForestClassifier(n_estimators=100, random_state=SEED),
        ),
    ):
        x, y = loader(return_X_y=True)
        estimator.fit(x.astype(np.float32), y)
        data = _convert(estimator, x.shape[1])
        path = workdir / f"{name}.onnx"
        path.write_bytes(data)
        rows = np.random.default_rng(SEED).permutation(x)  # a mix of classes in every body
        made.append(BenchModel(name, title, path, hashlib.sha256(data).hexdigest(), x.shape[1], rows))
    return made


def expected(model: BenchModel, batch: int, index: int) -> dict[str, np.ndarray]:
    """What the model answers for body ``index`` (raw ONNX Runtime, the same float32 rows)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(model.path), providers=["CPUExecutionProvider"])
    rows = model.body_rows(batch, index).astype(np.float32)
    return dict(zip(OUTPUTS, session.run(list(OUTPUTS), {INPUT: rows}), strict=True))
