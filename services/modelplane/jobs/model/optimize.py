"""Derived artifacts: ONNX Runtime dynamic quantization, measured against the original.

Where it sits: after the gates passed, before registration. ``quantize_dynamic`` stores the weights of
MatMul/Gemm-style nodes as int8 (activations are quantized at run time), which shrinks neural networks
and linear layers; graphs made only of ``ai.onnx.ml`` operators (tree ensembles, linear classifiers)
have nothing it can quantize, and then no derived artifact is kept (the note says why).

The quantized model must load and run like the original; its primary metric (``accuracy`` for a
classifier, ``r2`` for a regressor) on the evaluation split minus the original's is ``accuracyDelta``.
With ``maxAccuracyDrop`` set, a derived artifact whose metric falls by more (or that cannot be measured
for lack of an evaluation split) is dropped. A kept one is published into the platform store with its
own sha256, size and single-call latency; serving may choose it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from modelplane.apis.v1alpha1.model_version import OptimizeSpec, Quantization
from modelplane.jobs.errors import InvalidModel
from modelplane.jobs.model import check, source

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Optimized:
    """A derived artifact that was kept."""

    uri: str
    sha256: str
    size_bytes: int
    quantization: Quantization
    accuracy_delta: float | None
    single_inference_microseconds: int

    def to_wire(self) -> dict[str, Any]:
        return {
            "uri": self.uri,
            "sha256": self.sha256,
            "sizeBytes": self.size_bytes,
            "quantization": self.quantization.value,
            "accuracyDelta": self.accuracy_delta,
            "singleInferenceMicroseconds": self.single_inference_microseconds,
        }


@dataclass(frozen=True)
class Optimization:
    """What optimization did: the kept artifact, or None with the reason in ``note``."""

    artifact: Optimized | None
    note: str | None = None


PrimaryMetric = Callable[[Any], float | None]
"""Scores a session on the evaluation split: its primary metric, or None without an evaluation split."""


def optimize(
    spec: OptimizeSpec,
    original: Path,
    *,
    original_metric: float | None,
    measure: PrimaryMetric,
    sample: Mapping[str, Any],
    publish: Callable[[source.FetchedArtifact], str],
) -> Optimization:
    """Derive, measure and publish the optimized artifact ``spec`` asks for."""
    if spec.quantization != Quantization.DYNAMIC:
        return Optimization(None)
    path = original.with_name("model.quantized.onnx")
    try:
        quantize(original, path)
    except Exception as error:  # quantize_dynamic raises ValueError, RuntimeError, onnx errors...
        note = f"dynamic quantization is not applicable to this model: {check.first_line(error)}"
        logger.info("Skipped quantization: %s.", note)
        return Optimization(None, note)
    try:
        check.check_onnx(path)
        session = check.open_session(path)
        check.run(session, sample)
    except InvalidModel as error:
        return Optimization(None, f"the quantized model was dropped: {error}")
    metric = measure(session)
    delta = None if metric is None or original_metric is None else metric - original_metric
    if spec.max_accuracy_drop is not None:
        if delta is None:
            return Optimization(None, "the quantized model was dropped: its accuracy could not be measured")
        if -delta > spec.max_accuracy_drop:
            return Optimization(
                None,
                f"the quantized model was dropped: its metric fell by {-delta:.4g}, more than maxAccuracyDrop "
                f"{spec.max_accuracy_drop:.4g}",
            )
    latency = check.single_call_microseconds(session, sample)
    fetched = source.hash_file(path)
    uri = publish(fetched)
    logger.info(
        "Quantized the model: %d bytes, accuracy delta %s, %d us.",
        fetched.size,
        delta,
        latency,
        extra={"sha256": fetched.sha256},
    )
    return Optimization(Optimized(uri, fetched.sha256, fetched.size, Quantization.DYNAMIC, delta, latency))


def quantize(original: Path, into: Path) -> None:
    """ONNX Runtime dynamic quantization with int8 weights."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(original, into, weight_type=QuantType.QInt8)
