"""What the export examples print after writing a model: where it went, its sha256 and its signature, in
the form a ModelVersion's ``spec.source.external.sha256`` and ``spec.signature`` take."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

DATATYPES = {"tensor(float)": "FP32", "tensor(double)": "FP64", "tensor(int64)": "INT64", "tensor(int32)": "INT32"}


def print_summary(output: Path, data: bytes, session: Any, accuracy: float) -> None:
    """Print the file, its size and test accuracy, its sha256 and ONNX Runtime's view of its tensors."""
    print(f"wrote {output} ({len(data)} bytes), test accuracy {accuracy:.3f}")
    print(f"sha256: {hashlib.sha256(data).hexdigest()}")
    print("signature:")
    for kind, tensors in (("inputs", session.get_inputs()), ("outputs", session.get_outputs())):
        print(f"  {kind}:")
        for tensor in tensors:
            shape = [d if isinstance(d, int) else -1 for d in tensor.shape]  # a named dimension is dynamic
            print(f"    - {{name: {tensor.name}, datatype: {DATATYPES.get(tensor.type, tensor.type)}, shape: {shape}}}")
